// Claims: the rules a token whose signature verified must still meet —
// exactly the service's (src/token/claims.rs): the fields and their types,
// issuer, audience, subject, ids, scopes, lifetime, and the times with the
// leeway.

import { InvalidTokenError } from './errors.js';
import { isObject, JsonNumber, JsonValue, parseStrict } from './json.js';
import { isAdminScope, scopesFromClaim } from './scopes.js';

/** What a deployment checks; defaults are the service's. */
export interface Policy {
  /** `iss`, compared exactly (default `informly`, the service's `--issuer`). */
  issuer: string;
  /** Our identifier in `aud` (default `informly-api`, the service's `--audience`). */
  audience: string;
  /** Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds (default 30). */
  leeway: number;
  /** Longest `exp - iat` of an app token, in seconds (default 366 days). */
  maxLifetime: number;
  /** Longest `exp - iat` of an admin token, in seconds (default 24 h). */
  maxAdminLifetime: number;
}

export const DEFAULT_POLICY: Readonly<Policy> = Object.freeze({
  issuer: 'informly',
  audience: 'informly-api',
  leeway: 30,
  maxLifetime: 366 * 24 * 3600,
  maxAdminLifetime: 24 * 3600,
});

/** The claims of a verified token, in our terms. Times are Unix seconds. */
export interface Claims {
  tokenId: string;
  workspace: string;
  /** `sub` / `client_id`: `app_…`, or `admin:<name>` for an admin token. */
  subject: string;
  /** The app id; `null` for an admin token. */
  appId: string | null;
  scopes: string[];
  issuedAt: number;
  notBefore: number;
  expiresAt: number;
}

const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

/** `prefix` followed by a 26-character ULID (Crockford base32, uppercase). */
export function isPrefixedId(value: string, prefix: string): boolean {
  return value.startsWith(prefix) && ULID.test(value.slice(prefix.length));
}

/** `admin:` and 1–64 of `[a-z0-9_.-]`. */
const ADMIN_SUBJECT = /^admin:[a-z0-9_.-]{1,64}$/;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysIn(year: number, month: number): number {
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}

const RFC3339 =
  /^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.[0-9]+)?(?:Z|([+-])([0-9]{2}):([0-9]{2}))$/;

/**
 * An RFC 3339 time as Unix seconds (fractions dropped), or `null`. The
 * service's rule: the `time` crate's RFC 3339 parser, with the uppercase `T`
 * and `Z` the PASETO spec asks for; a leap second is taken only as the last
 * second of a month in UTC, and read as the second before it.
 */
export function parseRfc3339(value: string): number | null {
  const m = RFC3339.exec(value);
  if (!m) return null;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  let second = Number(m[6]);
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return null;
  let offset = 0;
  if (m[7] !== undefined) {
    const offsetHour = Number(m[8]);
    const offsetMinute = Number(m[9]);
    if (offsetHour > 23 || offsetMinute > 59) return null;
    offset = (m[7] === '-' ? -1 : 1) * (offsetHour * 3600 + offsetMinute * 60);
  }
  const leap = second === 60;
  if (leap) second = 59;
  if (hour > 23 || minute > 59 || second > 59) return null;
  const unix = daysFromCivil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset;
  if (leap) {
    // Valid only as 23:59:59(.999…) UTC on the last day of a month.
    const utc = new Date(unix * 1000);
    const lastDay = daysIn(utc.getUTCFullYear(), utc.getUTCMonth() + 1);
    if (
      utc.getUTCHours() !== 23 ||
      utc.getUTCMinutes() !== 59 ||
      utc.getUTCSeconds() !== 59 ||
      utc.getUTCDate() !== lastDay
    ) {
      return null;
    }
  }
  return unix;
}

/** How a format writes its times: RFC 3339 strings (PASETO) or NumericDate integers (JWT). */
export type TimeFormat = 'rfc3339' | 'numeric';

/** The i64 range of the service's JWT times. */
const I64_MAX = 9223372036854775807n;

/** A time claim in Unix seconds (a bigint when past 2^53), or null when it breaks the format. */
function readTime(value: JsonValue | undefined, format: TimeFormat): number | bigint | null {
  if (format === 'rfc3339') {
    if (typeof value !== 'string') return null;
    // The service's own guards before its parser (claims.rs `TimeClaim::read`).
    if (Buffer.byteLength(value) < 20 || value[10] !== 'T' || value.endsWith('z')) return null;
    return parseRfc3339(value);
  }
  if (!(value instanceof JsonNumber) || !value.isInteger || value.raw.startsWith('-')) return null;
  // Up to 15 digits is exact as a number (the usual case: no bigint work).
  if (value.raw.length <= 15) return Number(value.raw);
  const big = BigInt(value.raw);
  if (big > I64_MAX) return null;
  return big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
}

const CLAIM_NAMES = new Set(['iss', 'aud', 'sub', 'client_id', 'jti', 'workspace', 'scope', 'iat', 'nbf', 'exp']);
const REQUIRED = ['iss', 'aud', 'sub', 'client_id', 'jti', 'workspace', 'iat', 'nbf', 'exp'];

function invalid(): InvalidTokenError {
  return new InvalidTokenError('invalid_claims');
}

/**
 * Checks every claim rule on the payload of a token whose signature verified,
 * at `now` (Unix seconds), in the service's order, and returns the claims.
 */
export function checkClaims(payload: Uint8Array, format: TimeFormat, policy: Policy, now: number): Claims {
  // A JSON object, first byte `{`: no arrays, scalars or leading whitespace.
  if (payload[0] !== 0x7b) throw invalid();
  let wire: JsonValue;
  try {
    wire = parseStrict(payload);
  } catch {
    throw invalid();
  }
  if (!isObject(wire)) throw invalid();
  for (const key of Object.keys(wire)) if (!CLAIM_NAMES.has(key)) throw invalid();
  for (const key of REQUIRED) if (!(key in wire)) throw invalid();
  const { iss, aud, sub, client_id: clientId, jti, workspace, scope } = wire;
  if (
    typeof iss !== 'string' ||
    typeof sub !== 'string' ||
    typeof clientId !== 'string' ||
    typeof jti !== 'string' ||
    typeof workspace !== 'string'
  ) {
    throw invalid();
  }
  // `aud`: a string, or an array of strings.
  let audiences: string[];
  if (typeof aud === 'string') audiences = [aud];
  else if (Array.isArray(aud) && aud.every((a) => typeof a === 'string')) audiences = aud as string[];
  else throw invalid();
  // `scope`: a string, or null (no scopes).
  if (scope !== undefined && scope !== null && typeof scope !== 'string') throw invalid();
  // Times must at least be of the format's JSON type to get this far.
  const timeType = format === 'rfc3339' ? 'string' : 'number';
  for (const key of ['iat', 'nbf', 'exp']) {
    const value = wire[key];
    const ok = timeType === 'string' ? typeof value === 'string' : value instanceof JsonNumber && value.isInteger && isI64(value.raw);
    if (!ok) throw invalid();
  }

  if (iss !== policy.issuer) throw new InvalidTokenError('wrong_issuer');
  if (!audiences.includes(policy.audience)) throw new InvalidTokenError('wrong_audience');
  if (sub !== clientId) throw invalid();
  const admin = sub.startsWith('admin:');
  if (admin ? !ADMIN_SUBJECT.test(sub) : !isPrefixedId(sub, 'app_')) throw invalid();
  if (!isPrefixedId(jti, 'tok_') || !isPrefixedId(workspace, 'ws_')) throw invalid();
  const scopes = typeof scope === 'string' ? scopesFromClaim(scope) : [];
  // Admin scopes only on admin tokens, and admin tokens carry nothing else.
  if (scopes.some((s) => isAdminScope(s) !== admin)) throw invalid();

  const issuedAt = readTime(wire.iat, format);
  const notBefore = readTime(wire.nbf, format);
  const expiresAt = readTime(wire.exp, format);
  if (issuedAt === null || notBefore === null || expiresAt === null) throw invalid();
  const maxLifetime = admin ? policy.maxAdminLifetime : policy.maxLifetime;
  const lifetime =
    typeof expiresAt === 'number' && typeof issuedAt === 'number'
      ? expiresAt - issuedAt > maxLifetime
      : BigInt(expiresAt) - BigInt(issuedAt) > BigInt(maxLifetime);
  if (lifetime) {
    throw new InvalidTokenError('lifetime_too_long');
  }
  const claims: Claims = {
    tokenId: jti,
    workspace,
    subject: sub,
    appId: admin ? null : sub,
    scopes,
    issuedAt: Number(issuedAt),
    notBefore: Number(notBefore),
    expiresAt: Number(expiresAt),
  };
  checkTime(claims, policy, now);
  return claims;
}

/** A JSON integer literal that fits the i64 the service reads it into (sign included). */
function isI64(raw: string): boolean {
  if (raw.length <= 15) return raw !== '-0';
  const big = BigInt(raw);
  return big <= I64_MAX && big >= -I64_MAX - 1n && raw !== '-0';
}

/** The rules that depend on the time: `exp`, `nbf` and `iat`, each with the leeway. */
export function checkTime(claims: Claims, policy: Policy, now: number): void {
  if (now > claims.expiresAt + policy.leeway) throw new InvalidTokenError('expired');
  if (claims.notBefore > now + policy.leeway) throw new InvalidTokenError('not_yet_valid');
  if (claims.issuedAt > now + policy.leeway) throw new InvalidTokenError('issued_in_future');
}
