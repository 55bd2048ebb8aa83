// The token core: one entry point for both formats, in the service's order
// (src/token/verify.rs), which keeps garbage cheap — size, format, key id,
// key lookup (in memory), signature (by the `paseto` and `jose` libraries),
// and only then the claims. Every check before the signature is ours, so a
// token is refused for the same reason as by the Rust verifier.

import { compactVerify } from 'jose';
import { ClaimValidationError, PublicProtocol } from 'paseto';
import { VerifyFactory, type PublicKey as PasetoKey } from 'paseto/v4/public';

import { decodeCanonical } from './base64.js';
import { checkClaims, Claims, Policy } from './claims.js';
import { InvalidTokenError, Reason } from './errors.js';
import { isObject, JsonValue, parseStrict } from './json.js';
import { Format, KeyEntry, KeySet } from './keys.js';

/** Tokens longer than this (in bytes) are refused before any decoding work. */
export const MAX_TOKEN_LEN = 8 * 1024;

const PASETO_HEADER = 'v4.public.';
const SIGNATURE_LEN = 64;

/** Access tokens are signed with an empty implicit assertion; the feed with its own. */
export const TOKEN_ASSERTION = new Uint8Array(0);

const pasetoVerify = new PublicProtocol(VerifyFactory);

/** A token that passed every rule but revocation. */
export interface CoreVerified {
  claims: Claims;
  format: Format;
  kid: string;
}

function fail(reason: Reason): never {
  throw new InvalidTokenError(reason);
}

/** Verifies `token` against `keys` and `policy` at `now` (Unix seconds). */
export async function verifyToken(token: string, keys: KeySet, policy: Policy, now: number): Promise<CoreVerified> {
  if (token.length > MAX_TOKEN_LEN || Buffer.byteLength(token) > MAX_TOKEN_LEN) fail('too_large');
  if (token.startsWith(PASETO_HEADER)) return verifyPaseto(token, keys, policy, now);
  if (token.startsWith('eyJ')) return verifyJwt(token, keys, policy, now);
  fail('unsupported_format');
}

// ---------------------------------------------------------------------------
// PASETO v4.public
// ---------------------------------------------------------------------------

const PID = /^k4\.pid\.[A-Za-z0-9_-]{44}$/;

/**
 * The key id from the footer, read before the signature is checked: the
 * footer must be exactly `{"kid":"k4.pid.…"}` (SECURITY.md §9 C3–C8, F6).
 */
export function pasetoKeyId(token: string): string {
  const parts = token.slice(PASETO_HEADER.length).split('.');
  const message = parts[0]!;
  if (message === '' || parts.length > 2) fail('malformed');
  const footer = parts[1];
  if (footer === undefined) fail('missing_key_id');
  // `v4.public.<m>.`: a second spelling of a footer-less token.
  if (footer === '') fail('non_canonical');
  // A deployment has a handful of footers (one per key): read each once.
  const known = FOOTERS.get(footer);
  if (known !== undefined) return known;
  const kid = readFooter(footer);
  if (FOOTERS.size >= 64) FOOTERS.clear();
  FOOTERS.set(footer, kid);
  return kid;
}

/** Footer text → the key id it names, for footers that read well. */
const FOOTERS = new Map<string, string>();

function readFooter(footer: string): string {
  const bytes = decodeCanonical(footer);
  if (bytes === null) fail('non_canonical');
  if (bytes[0] !== 0x7b) fail('bad_footer');
  let parsed: JsonValue;
  try {
    parsed = parseStrict(bytes);
  } catch {
    fail('bad_footer');
  }
  if (!isObject(parsed)) fail('bad_footer');
  const names = Object.keys(parsed);
  const kid = parsed.kid;
  if (names.length !== 1 || typeof kid !== 'string' || !PID.test(kid)) fail('bad_footer');
  return kid;
}

/** The key named by `kid` if it exists, verifies, and is of `format`. */
function lookup(keys: KeySet, kid: string, format: Format): KeyEntry {
  const key = keys.get(kid);
  if (key === undefined) fail('unknown_key');
  if (key.status === 'retired') fail('retired_key');
  if (key.format !== format) fail('wrong_key_format');
  if (!key.usable) fail('bad_signature');
  return key;
}

/**
 * Checks a v4.public signature with the `paseto` library and returns the
 * signed payload. The token's shape is checked first, as pasetors does:
 * strict base64 (non_canonical) and a message longer than a signature
 * (malformed). The library validates claims of its own after the signature;
 * ours are stricter and run next, so its claim complaints are not ours.
 */
export async function verifyPasetoSignature(key: PasetoKey, token: string, implicit: Uint8Array): Promise<Uint8Array> {
  const parts = token.split('.');
  const message = decodeCanonical(parts[2]!);
  if (message === null) fail('non_canonical');
  if (message.length <= SIGNATURE_LEN) fail('malformed');
  try {
    await pasetoVerify.Verify(key, token, {
      implicitAssertion: implicit,
      allowNonExpiring: true,
      // Times are ours to judge (leeway, second granularity): only the
      // signature is the library's here.
      clockTolerance: 1e12,
    });
  } catch (error) {
    // Thrown only once the signature has verified (`paseto` validates claims after it).
    const afterSignature =
      error instanceof ClaimValidationError ||
      (error instanceof Error && /^Claims /.test(error.message));
    if (!afterSignature) fail('bad_signature');
  }
  return message.subarray(0, message.length - SIGNATURE_LEN);
}

async function verifyPaseto(token: string, keys: KeySet, policy: Policy, now: number): Promise<CoreVerified> {
  const kid = pasetoKeyId(token);
  const key = lookup(keys, kid, 'paseto');
  const payload = await verifyPasetoSignature(key.paseto!, token, TOKEN_ASSERTION);
  return { claims: checkClaims(payload, 'rfc3339', policy, now), format: 'paseto', kid };
}

// ---------------------------------------------------------------------------
// JWT (RFC 9068, EdDSA)
// ---------------------------------------------------------------------------

/** Header members we accept, and those named only to be refused. */
const HEADER_ALLOWED = new Set(['alg', 'typ', 'kid']);
const HEADER_FORBIDDEN = new Set(['crit', 'jwk', 'jku', 'x5u', 'x5c', 'cty', 'b64', 'zip', 'enc']);

function asciiLower(s: string): string {
  return s.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
}

/** Splits the token and checks its header before any signature work. */
function jwtHeader(token: string): { kid: string; parts: [string, string, string] } {
  const parts = token.split('.');
  if (parts.length !== 3) fail('malformed');
  const [header, payload, signature] = parts as [string, string, string];
  if (header === '' || payload === '' || signature === '') fail('malformed');
  // A deployment has a handful of headers (one per key): read each once.
  let kid = HEADERS.get(header);
  if (kid === undefined) {
    kid = readHeader(header);
    if (HEADERS.size >= 64) HEADERS.clear();
    HEADERS.set(header, kid);
  }
  return { kid, parts: parts as [string, string, string] };
}

/** Header text → the key id it names, for headers that read well. */
const HEADERS = new Map<string, string>();

function readHeader(header: string): string {
  const bytes = decodeCanonical(header);
  if (bytes === null) fail('non_canonical');
  if (bytes[0] !== 0x7b) fail('malformed');
  let parsed: JsonValue;
  try {
    parsed = parseStrict(bytes);
  } catch {
    fail('malformed');
  }
  if (!isObject(parsed)) fail('malformed');
  let forbidden = false;
  for (const name of Object.keys(parsed)) {
    if (HEADER_FORBIDDEN.has(name)) forbidden = true;
    else if (!HEADER_ALLOWED.has(name)) fail('malformed');
  }
  const { alg, typ, kid } = parsed;
  // `alg` is required and a string; `typ` and `kid` are strings or null.
  if (typeof alg !== 'string') fail('malformed');
  if (typ !== undefined && typ !== null && typeof typ !== 'string') fail('malformed');
  if (kid !== undefined && kid !== null && typeof kid !== 'string') fail('malformed');
  // Present at all, `null` included (SECURITY.md D7).
  if (forbidden) fail('forbidden_header');
  // One algorithm, compared exactly: `none`, `HS256`, `eddsa`, `Ed25519` all fail.
  if (alg !== 'EdDSA') fail('algorithm');
  // RFC 9068 §4 and RFC 7515 §4.1.9: case-insensitive, `application/` optional.
  let type = typeof typ === 'string' ? typ : '';
  if (type.length >= 12 && asciiLower(type.slice(0, 12)) === 'application/') type = type.slice(12);
  if (asciiLower(type) !== 'at+jwt') fail('wrong_type');
  if (typeof kid !== 'string') fail('missing_key_id');
  return kid;
}

/**
 * Why a JWT signature segment is refused before any crypto, in the order of
 * the service's decoder (base64 0.22 `decode_slice` into 64 bytes): a stray
 * last byte, then a length that cannot fit, then any non-canonical encoding,
 * then a length other than 64 bytes. `null` when it is 64 canonical bytes.
 */
function signatureShape(text: string): Reason | null {
  const rem = text.length % 4;
  if (rem === 1 && !/[A-Za-z0-9_=-]$/.test(text)) return 'non_canonical';
  const leading = Math.max(0, text.length - rem - (rem === 0 ? 4 : 0));
  if (Math.floor(leading / 4) * 3 > SIGNATURE_LEN) return 'bad_signature';
  const signature = decodeCanonical(text);
  if (signature === null) return 'non_canonical';
  return signature.length === SIGNATURE_LEN ? null : 'bad_signature';
}

async function verifyJwt(token: string, keys: KeySet, policy: Policy, now: number): Promise<CoreVerified> {
  const { kid, parts } = jwtHeader(token);
  const key = lookup(keys, kid, 'jwt');
  const shape = signatureShape(parts[2]);
  if (shape !== null) fail(shape);
  try {
    await compactVerify(token, key.jwt!, { algorithms: ['EdDSA'] });
  } catch {
    fail('bad_signature');
  }
  const payload = decodeCanonical(parts[1]);
  if (payload === null) fail('non_canonical');
  return { claims: checkClaims(payload, 'numeric', policy, now), format: 'jwt', kid };
}
