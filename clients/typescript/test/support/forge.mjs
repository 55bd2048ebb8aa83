// Test-only signing: PASETO v4.public and JWT with full control over every
// byte (footers, headers, duplicate keys), to build the hostile inputs the
// verifier must refuse. PAE comes from the `paseto` library; Ed25519 from
// node:crypto. The verifier itself never signs.

import { createPrivateKey, createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import { PAE } from 'paseto';

import { jwtKid, pasetoKid } from '../../dist/keys.js';

const b64u = (bytes) => Buffer.from(bytes).toString('base64url');

/** An Ed25519 key pair with its raw public bytes; `seed` (32 bytes) makes it deterministic. */
export function keyPair(seed) {
  let privateKey;
  if (seed === undefined) {
    privateKey = generateKeyPairSync('ed25519').privateKey;
  } else {
    const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(seed)]);
    privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  }
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  return { privateKey, publicKey: new Uint8Array(spki.subarray(spki.length - 32)) };
}

/** A PASETO key: `{ kid, paserk, sign(payload, footer?, implicit?) }`. */
export function pasetoKey(seed) {
  const { privateKey, publicKey } = keyPair(seed);
  const paserk = `k4.public.${b64u(publicKey)}`;
  const kid = pasetoKid(paserk);
  return {
    kid,
    paserk,
    publicKey,
    /** `payload` and `footer`: strings or bytes; footer defaults to `{"kid":…}`. */
    sign(payload, footer = JSON.stringify({ kid }), implicit = '') {
      const enc = (v) => (typeof v === 'string' ? Buffer.from(v) : Buffer.from(v));
      const header = Buffer.from('v4.public.');
      const m = enc(payload);
      const f = enc(footer);
      const signature = sign(null, PAE([header, m, f, enc(implicit)]), privateKey);
      const body = `v4.public.${b64u(Buffer.concat([m, signature]))}`;
      return f.length === 0 ? body : `${body}.${b64u(f)}`;
    },
  };
}

/** A JWT key: `{ kid, x, jwk, sign(payload, header?) }`. */
export async function jwtKey(seed) {
  const { privateKey, publicKey } = keyPair(seed);
  const x = b64u(publicKey);
  const kid = await jwtKid(x);
  return {
    kid,
    x,
    jwk: { kty: 'OKP', crv: 'Ed25519', x, kid, alg: 'EdDSA', use: 'sig' },
    /** `payload` and `header`: strings (raw JSON) or objects. */
    sign(payload, header = { alg: 'EdDSA', typ: 'at+jwt', kid }) {
      const enc = (v) => b64u(typeof v === 'string' ? v : JSON.stringify(v));
      const input = `${enc(header)}.${enc(payload)}`;
      return `${input}.${b64u(sign(null, Buffer.from(input), privateKey))}`;
    },
  };
}

export const NOW = 1_800_000_000;
export const IDS = {
  token: 'tok_01J0000000000000000000000A',
  workspace: 'ws_01J0000000000000000000000B',
  app: 'app_01J0000000000000000000000C',
};

export function rfc3339(unix) {
  return new Date(unix * 1000).toISOString().replace('.000Z', 'Z');
}

/** Claims as the service writes them; `times` 'rfc3339' (PASETO) or 'numeric' (JWT). */
export function claims(times, overrides = {}) {
  const t = (unix) => (times === 'rfc3339' ? rfc3339(unix) : unix);
  return {
    iss: 'informly',
    aud: 'informly-api',
    sub: IDS.app,
    client_id: IDS.app,
    jti: IDS.token,
    workspace: IDS.workspace,
    scope: 'contacts:read',
    iat: t(NOW),
    nbf: t(NOW),
    exp: t(NOW + 3600),
    ...overrides,
  };
}

/** A feed page payload as the service writes it. */
export function feedPage(overrides = {}) {
  return {
    iss: 'informly',
    iat: rfc3339(NOW),
    exp: rfc3339(NOW + 60),
    since: null,
    next: 'MTc2NDI5MjEzMjAwMDAwMKv',
    full: true,
    revoked: [],
    cutoffs: [],
    ...overrides,
  };
}
