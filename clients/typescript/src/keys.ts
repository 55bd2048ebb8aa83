// The public keys a verifier knows, by key id, read from the service's two
// documents: `/.well-known/paserk.json` (PASETO keys, with their status) and
// `/.well-known/jwks.json` (JWT keys). As in the Rust `KeySet`: a key belongs
// to one format, its id is checked against the key (k4.pid or RFC 7638
// thumbprint), a retired key is kept only to be refused, and a key that is
// not a curve point or has small order verifies nothing (SECURITY.md §9 B13).

import { ed25519 } from '@noble/curves/ed25519';
import { blake2b } from '@noble/hashes/blake2b';
import { calculateJwkThumbprint, importJWK } from 'jose';
import { PublicProtocol } from 'paseto';
import { ImportPublicKeyFactory, type PublicKey as PasetoKey } from 'paseto/v4/public';

import { decodeCanonical, encode } from './base64.js';
import { isObject, JsonValue, parseStrict } from './json.js';

export type Format = 'paseto' | 'jwt';
export type KeyStatus = 'pending' | 'active' | 'retiring' | 'retired';

/** One public key, prepared for its format's library. */
export interface KeyEntry {
  readonly kid: string;
  readonly format: Format;
  readonly status: KeyStatus;
  /** False for bytes that are not a curve point or are of small order. */
  readonly usable: boolean;
  /** The library's key (paseto's for PASETO, a CryptoKey for jose); null when unusable. */
  readonly paseto: PasetoKey | null;
  readonly jwt: CryptoKey | null;
}

const pasetoKeys = new PublicProtocol(ImportPublicKeyFactory);

/** Why a key document was refused. */
export class KeyDocumentError extends Error {}

/** Keys by id: the only way from a token to a key (no "try every key"). */
export class KeySet {
  readonly #keys = new Map<string, KeyEntry>();

  get size(): number {
    return this.#keys.size;
  }

  get(kid: string): KeyEntry | undefined {
    return this.#keys.get(kid);
  }

  /** Adds `entry` unless its id is taken; returns whether it was added. */
  add(entry: KeyEntry): boolean {
    if (this.#keys.has(entry.kid)) return false;
    this.#keys.set(entry.kid, entry);
    return true;
  }

  entries(): IterableIterator<KeyEntry> {
    return this.#keys.values();
  }

  /** This set's keys, then `other`'s whose ids are not taken (the first source wins). */
  merge(other: KeySet): KeySet {
    const out = new KeySet();
    for (const key of this.entries()) out.add(key);
    for (const key of other.entries()) out.add(key);
    return out;
  }
}

/** A key of small order, or bytes that are no curve point, verifies nothing. */
function isUsable(bytes: Uint8Array): boolean {
  try {
    // zip215: decode as permissively as ed25519-dalek does (non-canonical y).
    return !ed25519.Point.fromHex(bytes, true).isSmallOrder();
  } catch {
    return false;
  }
}

/** The PASERK `k4.pid` of a `k4.public.…` key: BLAKE2b-264 of `k4.pid.` ‖ the PASERK. */
export function pasetoKid(paserk: string): string {
  const header = 'k4.pid.';
  const digest = blake2b(new TextEncoder().encode(header + paserk), { dkLen: 33 });
  return header + encode(digest);
}

/** The RFC 7638 thumbprint (SHA-256) of an Ed25519 public key: a JWT key's id. */
export async function jwtKid(x: string): Promise<string> {
  return calculateJwkThumbprint({ kty: 'OKP', crv: 'Ed25519', x }, 'sha256');
}

function readDocument(body: Uint8Array | string, what: string): JsonValue[] {
  let doc: JsonValue;
  try {
    doc = parseStrict(body);
  } catch {
    throw new KeyDocumentError(`not a ${what} document`);
  }
  const keys = isObject(doc) ? doc.keys : undefined;
  if (!Array.isArray(keys)) throw new KeyDocumentError(`not a ${what} document`);
  return keys;
}

const STATUSES = new Set<string>(['pending', 'active', 'retiring', 'retired']);

/**
 * Reads `/.well-known/paserk.json`: `{"keys":[{"kid","paserk":"k4.public.…","status"}]}`.
 * Each `kid` must be its key's `k4.pid`; a duplicate id refuses the document.
 */
export async function readPaserkSet(body: Uint8Array | string): Promise<KeySet> {
  const set = new KeySet();
  for (const entry of readDocument(body, 'PASERK key set')) {
    if (!isObject(entry)) throw new KeyDocumentError('not a PASERK key set document');
    const { kid, paserk, status } = entry;
    if (typeof kid !== 'string' || typeof paserk !== 'string' || typeof status !== 'string' || !STATUSES.has(status)) {
      throw new KeyDocumentError('not a PASERK key set document');
    }
    if (!paserk.startsWith('k4.public.')) throw new KeyDocumentError('not a PASERK k4.public key');
    const bytes = decodeCanonical(paserk.slice('k4.public.'.length));
    if (bytes === null) throw new KeyDocumentError('not valid base64url (unpadded, canonical)');
    if (bytes.length !== 32) throw new KeyDocumentError(`an Ed25519 key is 32 bytes, this one is ${bytes.length}`);
    if (pasetoKid(paserk) !== kid) throw new KeyDocumentError(`key id ${kid} does not match the key`);
    const usable = isUsable(bytes);
    let key: PasetoKey | null = null;
    if (usable) {
      try {
        key = await pasetoKeys.ImportPublicKey(paserk as `k4.public.${string}`);
      } catch {
        key = null;
      }
    }
    const added = set.add({ kid, format: 'paseto', status: status as KeyStatus, usable: usable && key !== null, paseto: key, jwt: null });
    if (!added) throw new KeyDocumentError(`key id ${kid} appears twice`);
  }
  return set;
}

/**
 * Reads `/.well-known/jwks.json`: Ed25519 JWKs (`kty` OKP, `crv` Ed25519,
 * `alg` EdDSA and `use` sig when given), each `kid` its RFC 7638 thumbprint.
 * All are active.
 */
export async function readJwks(body: Uint8Array | string): Promise<KeySet> {
  const set = new KeySet();
  for (const jwk of readDocument(body, 'JWKS')) {
    if (!isObject(jwk)) throw new KeyDocumentError('not a JWKS document');
    const { kty, crv, x, kid, alg } = jwk;
    const use = jwk['use'];
    if (typeof kty !== 'string' || typeof crv !== 'string' || typeof x !== 'string' || typeof kid !== 'string') {
      throw new KeyDocumentError('not a JWKS document');
    }
    if ((alg !== undefined && alg !== null && typeof alg !== 'string') || (use !== undefined && use !== null && typeof use !== 'string')) {
      throw new KeyDocumentError('not a JWKS document');
    }
    if (kty !== 'OKP' || crv !== 'Ed25519') throw new KeyDocumentError('not an Ed25519 JWK: kty must be OKP and crv Ed25519');
    if (typeof alg === 'string' && alg !== 'EdDSA') throw new KeyDocumentError('not an Ed25519 JWK: alg must be EdDSA');
    if (typeof use === 'string' && use !== 'sig') throw new KeyDocumentError('not an Ed25519 JWK: use must be sig');
    const bytes = decodeCanonical(x);
    if (bytes === null) throw new KeyDocumentError('not valid base64url (unpadded, canonical)');
    if (bytes.length !== 32) throw new KeyDocumentError(`an Ed25519 key is 32 bytes, this one is ${bytes.length}`);
    if ((await jwtKid(x)) !== kid) throw new KeyDocumentError(`key id ${kid} does not match the key`);
    const usable = isUsable(bytes);
    let key: CryptoKey | null = null;
    if (usable) {
      try {
        key = (await importJWK({ kty: 'OKP', crv: 'Ed25519', x }, 'EdDSA')) as CryptoKey;
      } catch {
        key = null;
      }
    }
    const added = set.add({ kid, format: 'jwt', status: 'active', usable: usable && key !== null, paseto: null, jwt: key });
    if (!added) throw new KeyDocumentError(`key id ${kid} appears twice`);
  }
  return set;
}
