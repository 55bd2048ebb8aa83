// Canonical base64url, as the service reads it: the URL-safe alphabet, no
// padding, no non-zero trailing bits (SECURITY.md §9 B9, B10). Buffer's own
// decoder would take all three.

const ALPHABET = /^[A-Za-z0-9_-]*$/;

/** The bytes of `text`, or `null` when it is not canonical unpadded base64url. */
export function decodeCanonical(text: string): Buffer | null {
  const rem = text.length % 4;
  if (rem === 1 || !ALPHABET.test(text)) return null;
  // The bits of the last character past the last whole byte must be zero:
  // 4 of them when 2 characters end the text, 2 when 3 do.
  if (rem !== 0) {
    const last = VALUE[text.charCodeAt(text.length - 1)]!;
    if ((last & (rem === 2 ? 0x0f : 0x03)) !== 0) return null;
  }
  return Buffer.from(text, 'base64url');
}

/** Each base64url character's value, by character code. */
const VALUE: number[] = (() => {
  const table = new Array<number>(128).fill(-1);
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  for (let i = 0; i < chars.length; i++) table[chars.charCodeAt(i)] = i;
  return table;
})();

export function encode(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}
