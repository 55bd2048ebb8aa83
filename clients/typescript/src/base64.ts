// Canonical base64url, as the service reads it: the URL-safe alphabet, no
// padding, no non-zero trailing bits (SECURITY.md §9 B9, B10). Buffer's own
// decoder would take all three.

const ALPHABET = /^[A-Za-z0-9_-]*$/;

/** The bytes of `text`, or `null` when it is not canonical unpadded base64url. */
export function decodeCanonical(text: string): Buffer | null {
  if (text.length % 4 === 1 || !ALPHABET.test(text)) return null;
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? bytes : null;
}

export function encode(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}
