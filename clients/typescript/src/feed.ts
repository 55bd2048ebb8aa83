// The signed revocation feed (docs/revocation-feed.md): a page is a PASETO
// v4.public token with our `{"kid"}` footer, signed with the implicit
// assertion `informly:revocation-feed:v2`, checked offline with the PASERK
// keys; and the denylist it keeps — revoked token ids (at once, or from a
// scheduled second after a roll) and per-app cutoffs.

import { Claims, isPrefixedId, parseRfc3339, Policy } from './claims.js';
import { FeedError, InvalidTokenError, FeedReason } from './errors.js';
import { isObject, JsonValue, parseStrict } from './json.js';
import { KeySet } from './keys.js';
import { pasetoKeyId, verifyPasetoSignature } from './token.js';

/**
 * The implicit assertion of a feed page, format version 2 (the service's
 * `FEED_ASSERTION`): version 2 added `revoked[].from`, the second a scheduled
 * revocation (a roll) takes effect. A version 1 reader refuses these pages.
 */
export const FEED_ASSERTION = 'informly:revocation-feed:v2';
const FEED_ASSERTION_BYTES = new TextEncoder().encode(FEED_ASSERTION);

/** Feeds longer than this are refused before any decoding work. */
export const MAX_FEED_LEN = 16 * 1024 * 1024;

/** A revoked token id; `from` is `null` for at once. */
export interface RevokedToken {
  tokenId: string;
  expiresAt: number;
  from: number | null;
}

/** An app whose tokens issued at or before `cutoff` are revoked. */
export interface AppCutoff {
  clientId: string;
  cutoff: number;
  expiresAt: number;
}

/** One verified page. Times are Unix seconds. */
export interface FeedPage {
  issuer: string;
  issuedAt: number;
  expiresAt: number;
  since: string | null;
  next: string;
  full: boolean;
  revoked: RevokedToken[];
  cutoffs: AppCutoff[];
}

const CURSOR = /^[A-Za-z0-9_-]{1,256}$/;

function refuse(reason: FeedReason): never {
  throw new FeedError(reason);
}

function time(value: JsonValue | undefined): number {
  if (typeof value !== 'string') refuse('invalid');
  // The same guards as token times.
  if (Buffer.byteLength(value) < 20 || value[10] !== 'T' || value.endsWith('z')) refuse('invalid');
  const t = parseRfc3339(value);
  if (t === null) refuse('invalid');
  return t;
}

/** Exactly these members, no others (missing ones are refused too). */
function exactly(value: JsonValue | undefined, names: readonly string[]): Record<string, JsonValue> {
  if (!isObject(value)) refuse('invalid');
  const keys = Object.keys(value);
  if (keys.length !== names.length || !names.every((n) => n in value)) refuse('invalid');
  return value;
}

/** Reads a signed payload into a page, checking every field's shape. */
function parsePage(json: Uint8Array): FeedPage {
  if (json[0] !== 0x7b) refuse('invalid');
  let doc: JsonValue;
  try {
    doc = parseStrict(json);
  } catch {
    refuse('invalid');
  }
  const wire = exactly(doc, ['iss', 'iat', 'exp', 'since', 'next', 'full', 'revoked', 'cutoffs']);
  const { iss, since, next, full, revoked, cutoffs } = wire;
  if (typeof iss !== 'string' || typeof next !== 'string' || typeof full !== 'boolean') refuse('invalid');
  if (since !== null && typeof since !== 'string') refuse('invalid');
  if (!Array.isArray(revoked) || !Array.isArray(cutoffs)) refuse('invalid');
  // Shapes first (the service's parser reads the whole payload before its checks).
  const revokedWire = revoked.map((r) => exactly(r, ['jti', 'exp', 'from']));
  const cutoffsWire = cutoffs.map((c) => exactly(c, ['client_id', 'cutoff', 'exp']));
  for (const r of revokedWire) {
    if (typeof r.jti !== 'string' || typeof r.exp !== 'string' || (r.from !== null && typeof r.from !== 'string')) refuse('invalid');
  }
  for (const c of cutoffsWire) {
    if (typeof c.client_id !== 'string' || typeof c.cutoff !== 'string' || typeof c.exp !== 'string') refuse('invalid');
  }
  if (typeof wire.iat !== 'string' || typeof wire.exp !== 'string') refuse('invalid');
  if (!CURSOR.test(next) || (since !== null && !CURSOR.test(since))) refuse('invalid');
  const issuedAt = time(wire.iat);
  const expiresAt = time(wire.exp);
  if (expiresAt < issuedAt) refuse('invalid');
  return {
    issuer: iss,
    issuedAt,
    expiresAt,
    since,
    next,
    full,
    revoked: revokedWire.map((r) => {
      if (!isPrefixedId(r.jti as string, 'tok_')) refuse('invalid');
      return { tokenId: r.jti as string, expiresAt: time(r.exp), from: r.from === null ? null : time(r.from) };
    }),
    cutoffs: cutoffsWire.map((c) => {
      if (!isPrefixedId(c.client_id as string, 'app_')) refuse('invalid');
      return { clientId: c.client_id as string, cutoff: time(c.cutoff), expiresAt: time(c.exp) };
    }),
  };
}

/**
 * Verifies a feed page offline at `now` with the PASERK keys of `keys` and
 * the issuer and leeway of `policy`. `asked` is the cursor sent (`null` for
 * none): the page must answer exactly that one. Key rules are those of
 * tokens: the footer's `kid` picks a known PASETO key that is not retired.
 */
export async function verifyFeed(feed: string, keys: KeySet, policy: Policy, asked: string | null, now: number): Promise<FeedPage> {
  if (feed.length > MAX_FEED_LEN || Buffer.byteLength(feed) > MAX_FEED_LEN) refuse('too_large');
  try {
    if (!feed.startsWith('v4.public.')) throw new InvalidTokenError('unsupported_format');
    const kid = pasetoKeyId(feed);
    const key = keys.get(kid);
    if (key === undefined) throw new InvalidTokenError('unknown_key');
    if (key.status === 'retired') throw new InvalidTokenError('retired_key');
    if (key.format !== 'paseto') throw new InvalidTokenError('wrong_key_format');
    if (!key.usable) throw new InvalidTokenError('bad_signature');
    const payload = await verifyPasetoSignature(key.paseto!, feed, FEED_ASSERTION_BYTES);
    const page = parsePage(payload);
    if (page.issuer !== policy.issuer) refuse('wrong_issuer');
    if (now > page.expiresAt + policy.leeway) refuse('expired');
    if (page.issuedAt > now + policy.leeway) refuse('issued_in_future');
    if (page.since !== asked) refuse('cursor_mismatch');
    return page;
  } catch (error) {
    if (error instanceof InvalidTokenError) refuse(`token:${error.reason}`);
    throw error;
  }
}

/**
 * Revocation as data, held in memory: token id → (the second its revocation
 * takes effect, the token's expiry), app → (cutoff, expiry).
 */
export class Denylist {
  readonly tokens = new Map<string, { from: number; expiresAt: number }>();
  readonly cutoffs = new Map<string, { cutoff: number; expiresAt: number }>();

  get size(): number {
    return this.tokens.size + this.cutoffs.size;
  }

  /**
   * Revokes `tokenId` from the second `from` (-Infinity: at once). Of two
   * schedules the earlier `from` wins, of two expiries the later.
   */
  scheduleRevocation(tokenId: string, from: number, expiresAt: number): void {
    const entry = this.tokens.get(tokenId);
    if (entry === undefined) this.tokens.set(tokenId, { from, expiresAt });
    else this.tokens.set(tokenId, { from: Math.min(entry.from, from), expiresAt: Math.max(entry.expiresAt, expiresAt) });
  }

  /** Revokes every token of `clientId` issued at or before `cutoff`; cutoffs only move forward. */
  setCutoff(clientId: string, cutoff: number, expiresAt: number): void {
    const entry = this.cutoffs.get(clientId);
    if (entry === undefined) this.cutoffs.set(clientId, { cutoff, expiresAt });
    else this.cutoffs.set(clientId, { cutoff: Math.max(entry.cutoff, cutoff), expiresAt: Math.max(entry.expiresAt, expiresAt) });
  }

  /** Drops entries that expired before `horizon` (now minus the leeway). */
  prune(horizon: number): void {
    for (const [id, entry] of this.tokens) if (entry.expiresAt < horizon) this.tokens.delete(id);
    for (const [id, entry] of this.cutoffs) if (entry.expiresAt < horizon) this.cutoffs.delete(id);
  }

  /** Applies a page: a full page replaces everything, a page of changes is merged in. */
  apply(page: FeedPage): void {
    if (page.full) {
      this.tokens.clear();
      this.cutoffs.clear();
    }
    for (const r of page.revoked) this.scheduleRevocation(r.tokenId, r.from ?? -Infinity, r.expiresAt);
    for (const c of page.cutoffs) this.setCutoff(c.clientId, c.cutoff, c.expiresAt);
  }

  /** Whether a verified token is denied at `now`: by its id, or its app's cutoff (inclusive). */
  denies(claims: Claims, now: number): boolean {
    const token = this.tokens.get(claims.tokenId);
    if (token !== undefined && now >= token.from) return true;
    const cutoff = this.cutoffs.get(claims.subject);
    return cutoff !== undefined && claims.issuedAt <= cutoff.cutoff;
  }
}
