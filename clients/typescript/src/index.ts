// @informly/verifier: verify Informly API tokens in a Node service with the
// service's own rules, the published keys and the signed revocation feed.
//
// Layout:
// - verifier.ts  `Verifier`: keys and feed kept current in the background; `verify`.
// - token.ts     the token core: both formats, checks in the service's order.
// - claims.ts    claim rules: types, issuer, audience, ids, scopes, lifetime, times.
// - feed.ts      revocation feed pages (assertion `informly:revocation-feed:v2`) and the denylist.
// - keys.ts      the PASERK key set and JWKS documents, key ids, unusable keys.
// - http.ts      Express middleware and a fetch-style wrapper answering like the service.
// - json.ts, base64.ts, scopes.ts, fetch.ts, errors.ts: the strict pieces under them.

import { webcrypto } from 'node:crypto';

// Node 18 has WebCrypto (which `jose` and `paseto` use) but may not expose it
// as `globalThis.crypto`.
if (globalThis.crypto === undefined) {
  Object.defineProperty(globalThis, 'crypto', { value: webcrypto, configurable: true });
}

export { Verifier, VerifiedToken, PASERK_PATH, JWKS_PATH, REVOCATIONS_PATH } from './verifier.js';
export type { VerifierOptions, VerifierStatus } from './verifier.js';
export {
  VerifierError,
  InvalidTokenError,
  InsufficientScopeError,
  StaleRevocationsError,
  LoadError,
  FeedError,
} from './errors.js';
export type { Reason, FeedReason } from './errors.js';
export { expressAuth, fetchAuth, authorize } from './http.js';
export type { GuardOptions, Refusal, ExpressLikeRequest, ExpressLikeResponse } from './http.js';
export { SCOPES } from './scopes.js';
export { FEED_ASSERTION } from './feed.js';
export { MAX_TOKEN_LEN } from './token.js';
export type { Format, KeyStatus } from './keys.js';
