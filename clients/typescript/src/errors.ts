// Why a token was refused, or a document could not be loaded. The reasons are
// the Rust token core's (`informly::token::Error`), in snake_case, so logs and
// the shared case file name them alike; what a client is told is only the
// service's three descriptions ("token expired", "token not yet valid",
// "invalid token"), so nothing leaks.

/** Why a token was refused, as the Rust token core names it. */
export type Reason =
  | 'too_large'
  | 'unsupported_format'
  | 'malformed'
  | 'non_canonical'
  | 'bad_footer'
  | 'missing_key_id'
  | 'unknown_key'
  | 'retired_key'
  | 'wrong_key_format'
  | 'algorithm'
  | 'wrong_type'
  | 'forbidden_header'
  | 'bad_signature'
  | 'invalid_claims'
  | 'wrong_issuer'
  | 'wrong_audience'
  | 'expired'
  | 'not_yet_valid'
  | 'issued_in_future'
  | 'lifetime_too_long'
  | 'revoked';

const MESSAGES: Record<Reason, string> = {
  too_large: 'token is longer than 8192 bytes',
  unsupported_format: 'token is neither v4.public PASETO nor a JWT',
  malformed: 'token is not well formed',
  non_canonical: 'token encoding is not canonical',
  bad_footer: 'token footer is not exactly {"kid": …}',
  missing_key_id: 'token names no key id',
  unknown_key: 'token names an unknown key',
  retired_key: 'token was signed by a retired key',
  wrong_key_format: 'token names a key of the other format',
  algorithm: 'token algorithm is not EdDSA',
  wrong_type: 'token type is not at+jwt',
  forbidden_header: 'token header carries a forbidden parameter (crit, jwk, jku, x5u, x5c, cty, …)',
  bad_signature: 'token signature is invalid',
  invalid_claims: 'token claims are missing, duplicated or of the wrong type',
  wrong_issuer: 'token issuer is wrong',
  wrong_audience: 'token audience is wrong',
  expired: 'token has expired',
  not_yet_valid: 'token is not valid yet',
  issued_in_future: 'token was issued in the future',
  lifetime_too_long: 'token lifetime exceeds the maximum',
  revoked: 'token has been revoked',
};

/** The base of every error this package throws. */
export class VerifierError extends Error {
  override name = 'VerifierError';
}

/**
 * The token is refused: HTTP 401 with `error="invalid_token"`. `reason` says
 * exactly why (for logs); `description` is what a client may be told.
 */
export class InvalidTokenError extends VerifierError {
  override name = 'InvalidTokenError';
  constructor(readonly reason: Reason) {
    super(MESSAGES[reason]);
  }

  /** The RFC 6750 `error_description`, as the service words it. */
  get description(): string {
    switch (this.reason) {
      case 'expired':
        return 'token expired';
      case 'not_yet_valid':
      case 'issued_in_future':
        return 'token not yet valid';
      default:
        return 'invalid token';
    }
  }
}

/** The token is valid but lacks the scope a route needs: HTTP 403 `insufficient_scope`. */
export class InsufficientScopeError extends VerifierError {
  override name = 'InsufficientScopeError';
  constructor(readonly scope: string) {
    super(`token lacks the scope ${scope}`);
  }
}

/**
 * No revocation feed page has verified within the staleness bound: a
 * revocation may have been missed, so no token is honoured (HTTP 503, as the
 * service answers).
 */
export class StaleRevocationsError extends VerifierError {
  override name = 'StaleRevocationsError';
  constructor() {
    super('the revocation list is stale: no feed page has verified within the staleness bound');
  }
}

/** The keys or a revocation feed page could not be fetched or were refused. */
export class LoadError extends VerifierError {
  override name = 'LoadError';
}

/** Why a revocation feed page was refused, as the Rust core names it. */
export type FeedReason =
  | 'too_large'
  | 'invalid'
  | 'wrong_issuer'
  | 'expired'
  | 'issued_in_future'
  | 'cursor_mismatch'
  | `token:${Reason}`;

/** A revocation feed page was refused. */
export class FeedError extends LoadError {
  override name = 'FeedError';
  constructor(readonly reason: FeedReason) {
    super(`revocation feed refused: ${reason}`);
  }
}
