// The verifier a Node service holds: the token core plus what it needs to run
// on its own — the published keys, fetched and refreshed, and the signed
// revocation feed, followed in the background. It behaves as the Rust
// `informly::remote::RemoteVerifier` (src/remote/): the same rules, intervals,
// rate limits and fail-closed staleness bound.

import { Claims, DEFAULT_POLICY, Policy } from './claims.js';
import { InsufficientScopeError, InvalidTokenError, LoadError, StaleRevocationsError } from './errors.js';
import { Denylist, FeedPage, MAX_FEED_LEN, verifyFeed } from './feed.js';
import { FetchLike, get, redact, StatusError } from './fetch.js';
import { isObject, parseStrict } from './json.js';
import { Format, KeyDocumentError, KeySet, readJwks, readPaserkSet } from './keys.js';
import { verifyToken } from './token.js';

export const PASERK_PATH = '/.well-known/paserk.json';
export const JWKS_PATH = '/.well-known/jwks.json';
export const REVOCATIONS_PATH = '/v1/revocations';

/** Key documents longer than this are refused: a few keys take a few KiB. */
const MAX_KEYS_LEN = 1024 * 1024;
/** The feed endpoint's answer: the signed page plus the JSON around it. */
const MAX_ENVELOPE_LEN = MAX_FEED_LEN + 1024;
/** How often a poll asks for the full list instead of the changes (seconds). */
const FULL_LIST_EVERY = 600;

export interface VerifierOptions {
  /** An Informly server: its key documents and revocation feed at their standard paths. */
  baseUrl?: string;
  /** `/.well-known/paserk.json` elsewhere (PASETO keys; the feed is signed with one). */
  paserkUrl?: string;
  /** `/.well-known/jwks.json` elsewhere (JWT keys). */
  jwksUrl?: string;
  /** `/v1/revocations` elsewhere. */
  revocationsUrl?: string;
  /**
   * Verify without following revocations: a revoked token is accepted until
   * it expires. Must be said explicitly when no feed URL is known.
   */
  withoutRevocations?: boolean;
  /** The service's `--issuer` (default `informly`). */
  issuer?: string;
  /** The service's `--audience` (default `informly-api`). */
  audience?: string;
  /** Clock skew tolerated on `exp`, `nbf`, `iat` and feed pages, seconds (default 30). */
  leewaySeconds?: number;
  /** Longest app token lifetime, seconds (default 366 days). */
  maxLifetimeSeconds?: number;
  /** Longest admin token lifetime, seconds (default 24 h). */
  maxAdminLifetimeSeconds?: number;
  /** How often the feed is polled, seconds (default 5): *P* in the freshness bound. */
  feedIntervalSeconds?: number;
  /** Past this long without a verified feed page, every token is refused (default 300 s). */
  stalenessSeconds?: number;
  /** How often the keys are refreshed on schedule, seconds (default 60). */
  keyRefreshSeconds?: number;
  /** The least time between two key refreshes an unknown key id asks for, seconds (default 10). */
  keyRefreshMinSeconds?: number;
  /** Timeout of each HTTP request, seconds (default 10). */
  timeoutSeconds?: number;
  /** The time, in milliseconds since the epoch (default `Date.now`); token times are read in whole seconds. */
  clock?: () => number;
  /** The fetch to use (default the global one). */
  fetch?: FetchLike;
}

/** What the verifier holds, for a health endpoint or a test. */
export interface VerifierStatus {
  keys: number;
  denylistEntries: number;
  /** When (by the verifier's clock) a feed page last verified; null before the first, or without revocations. */
  feedVerifiedAt: Date | null;
  keyRefreshes: number;
  /** The last background failure, if the last attempt failed. */
  lastError: string | null;
}

/** A verified token: who it speaks for, what it may do, until when. */
export class VerifiedToken {
  /** The token id (`jti`, `tok_…`): never the token itself. */
  readonly tokenId: string;
  /** The app (`app_…`); null for an admin token. */
  readonly appId: string | null;
  readonly workspace: string;
  /** `sub` / `client_id`. */
  readonly subject: string;
  /** Known scopes, in the service's order. */
  readonly scopes: readonly string[];
  readonly issuedAt: Date;
  readonly expiresAt: Date;
  readonly format: Format;
  /** The id of the key that signed it. */
  readonly kid: string;

  constructor(claims: Claims, format: Format, kid: string) {
    this.tokenId = claims.tokenId;
    this.appId = claims.appId;
    this.workspace = claims.workspace;
    this.subject = claims.subject;
    this.scopes = Object.freeze([...claims.scopes]);
    this.issuedAt = new Date(claims.issuedAt * 1000);
    this.expiresAt = new Date(claims.expiresAt * 1000);
    this.format = format;
    this.kid = kid;
  }

  has(scope: string): boolean {
    return this.scopes.includes(scope);
  }

  /** Throws `InsufficientScopeError` (HTTP 403) naming `scope` unless the token carries it. */
  require(scope: string): this {
    if (!this.has(scope)) throw new InsufficientScopeError(scope);
    return this;
  }
}

/** One at a time: callers queue behind the running task. */
class Lock {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(task, task);
    this.#tail = result.catch(() => undefined);
    return result;
  }
}

/**
 * Verifies Informly tokens in process with the service's rules, keys and
 * revocations kept current in the background. Build it with
 * `await Verifier.create({ baseUrl })`; `close()` stops the background work.
 *
 * Freshness: a token revoked on the service is refused within the feed
 * interval + 6 s plus one request (default 11 s plus one round trip); past
 * the staleness bound without a verified feed page, every token is refused
 * with `StaleRevocationsError`.
 */
export class Verifier {
  readonly #policy: Policy;
  readonly #fetch: FetchLike;
  readonly #clock: () => number;
  readonly #timeoutMs: number;
  readonly #staleness: number;
  readonly #keyRefreshMin: number;
  readonly #sources: { url: string; kind: 'paserk' | 'jwks' }[];
  readonly #feedUrl: string | null;

  #keys = new KeySet();
  #keyLock = new Lock();
  /** Milliseconds (monotonic) of the last key fetch attempt. */
  #keysFetchedAt: number | null = null;
  #keyRefreshes = 0;

  readonly #denylist = new Denylist();
  #feedLock = new Lock();
  /** Clock seconds of the last verified page; null: stale. */
  #feedVerifiedAt: number | null = null;
  #cursor: string | null = null;
  #lastIssuedAt: number | null = null;
  #fullAt: number | null = null;

  #lastError: string | null = null;
  #timers: NodeJS.Timeout[] = [];
  #closed = false;

  private constructor(options: VerifierOptions) {
    const base = options.baseUrl?.replace(/\/+$/, '');
    const paserkUrl = options.paserkUrl ?? (base !== undefined ? base + PASERK_PATH : undefined);
    const jwksUrl = options.jwksUrl ?? (base !== undefined ? base + JWKS_PATH : undefined);
    const revocationsUrl = options.revocationsUrl ?? (base !== undefined ? base + REVOCATIONS_PATH : undefined);
    this.#sources = [];
    if (paserkUrl !== undefined) this.#sources.push({ url: paserkUrl, kind: 'paserk' });
    if (jwksUrl !== undefined) this.#sources.push({ url: jwksUrl, kind: 'jwks' });
    if (this.#sources.length === 0) throw new LoadError('no key source: give baseUrl, paserkUrl or jwksUrl');
    if (options.withoutRevocations === true) this.#feedUrl = null;
    else if (revocationsUrl !== undefined) this.#feedUrl = revocationsUrl;
    else throw new LoadError('no revocation feed: give baseUrl or revocationsUrl, or opt out with withoutRevocations: true');
    this.#policy = {
      issuer: options.issuer ?? DEFAULT_POLICY.issuer,
      audience: options.audience ?? DEFAULT_POLICY.audience,
      leeway: options.leewaySeconds ?? DEFAULT_POLICY.leeway,
      maxLifetime: options.maxLifetimeSeconds ?? DEFAULT_POLICY.maxLifetime,
      maxAdminLifetime: options.maxAdminLifetimeSeconds ?? DEFAULT_POLICY.maxAdminLifetime,
    };
    const fetchFn = options.fetch ?? globalThis.fetch;
    if (typeof fetchFn !== 'function') throw new LoadError('no fetch: pass options.fetch (Node 18 or later has one)');
    this.#fetch = fetchFn;
    this.#clock = options.clock ?? Date.now;
    this.#timeoutMs = (options.timeoutSeconds ?? 10) * 1000;
    this.#staleness = options.stalenessSeconds ?? 300;
    this.#keyRefreshMin = (options.keyRefreshMinSeconds ?? 10) * 1000;
  }

  /**
   * Loads the keys and the first feed page, then starts the background
   * refreshes. Rejects with `LoadError` when either cannot be loaded: a
   * verifier with no keys would refuse everything.
   */
  static async create(options: VerifierOptions): Promise<Verifier> {
    const verifier = new Verifier(options);
    await verifier.#refreshKeys(false);
    await verifier.#pollFeed();
    verifier.#every((options.keyRefreshSeconds ?? 60) * 1000, () => verifier.#refreshKeys(true).then(() => undefined));
    if (verifier.#feedUrl !== null) verifier.#every((options.feedIntervalSeconds ?? 5) * 1000, () => verifier.#pollFeed());
    return verifier;
  }

  /** Clock seconds. */
  #now(): number {
    return Math.floor(this.#clock() / 1000);
  }

  /**
   * Verifies `token` now: the rules, the keys, staleness, then revocation.
   * Rejects with `InvalidTokenError` (HTTP 401) or `StaleRevocationsError`
   * (HTTP 503). A token naming a key id we do not know triggers one key
   * refresh (rate-limited, shared by concurrent callers) and a second look.
   */
  async verify(token: string): Promise<VerifiedToken> {
    const now = this.#now();
    try {
      return await this.#check(token, now);
    } catch (error) {
      if (!(error instanceof InvalidTokenError) || error.reason !== 'unknown_key') throw error;
      // If the refresh fails, the keys we had still stand.
      await this.#refreshKeys(true).catch(() => undefined);
      return await this.#check(token, now);
    }
  }

  async #check(token: string, now: number): Promise<VerifiedToken> {
    const verified = await verifyToken(token, this.#keys, this.#policy, now);
    if (this.#feedUrl !== null) {
      if (this.#feedVerifiedAt === null || now - this.#feedVerifiedAt > this.#staleness) {
        throw new StaleRevocationsError();
      }
      if (this.#denylist.denies(verified.claims, now)) throw new InvalidTokenError('revoked');
    }
    return new VerifiedToken(verified.claims, verified.format, verified.kid);
  }

  /** Fetches the keys now (one fetch at a time; not rate-limited). */
  async refreshKeys(): Promise<void> {
    await this.#refreshKeys(false);
  }

  /** Polls the revocation feed now, as the background task does. */
  async pollRevocations(): Promise<void> {
    await this.#pollFeed();
  }

  status(): VerifierStatus {
    return {
      keys: this.#keys.size,
      denylistEntries: this.#denylist.size,
      feedVerifiedAt: this.#feedVerifiedAt === null ? null : new Date(this.#feedVerifiedAt * 1000),
      keyRefreshes: this.#keyRefreshes,
      lastError: this.#lastError,
    };
  }

  /**
   * Stops the background refreshes: the verifier goes on answering from what
   * it holds (and fails closed once the feed is stale).
   */
  close(): void {
    this.#closed = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers = [];
  }

  /** Runs `job` every `ms` (the first time one interval from now); an overrun delays the next. */
  #every(ms: number, job: () => Promise<void>): void {
    const slot = this.#timers.length;
    const schedule = () => {
      if (this.#closed) return;
      const timer = setTimeout(() => {
        job().then(
          () => (this.#lastError = null),
          (error: unknown) => (this.#lastError = error instanceof Error ? error.message : String(error)),
        ).finally(schedule);
      }, Math.max(ms, 10));
      // Background work never keeps the process alive on its own.
      timer.unref();
      this.#timers[slot] = timer;
    };
    this.#timers.push(undefined as unknown as NodeJS.Timeout);
    schedule();
  }

  /**
   * Fetches every key source and swaps the new key set in. Concurrent callers
   * wait for one fetch; with `rateLimited`, a refresh within the minimum
   * interval of the last attempt (failed or not) is skipped. Returns whether
   * keys were fetched.
   */
  #refreshKeys(rateLimited: boolean): Promise<boolean> {
    return this.#keyLock.run(async () => {
      const at = performance.now();
      if (rateLimited && this.#keysFetchedAt !== null && at - this.#keysFetchedAt < this.#keyRefreshMin) return false;
      this.#keysFetchedAt = at;
      this.#keyRefreshes++;
      let keys = new KeySet();
      for (const source of this.#sources) {
        const body = await get(this.#fetch, source.url, null, MAX_KEYS_LEN, this.#timeoutMs);
        let loaded: KeySet;
        try {
          loaded = source.kind === 'paserk' ? await readPaserkSet(body) : await readJwks(body);
        } catch (error) {
          if (error instanceof KeyDocumentError) throw new LoadError(`${redact(source.url)}: ${error.message}`);
          throw error;
        }
        // The first source naming a key id wins.
        keys = keys.merge(loaded);
      }
      this.#keys = keys;
      return true;
    });
  }

  /**
   * One poll of the feed: fetch the page after our cursor (or, every ten
   * minutes, the full list), verify it with the keys we hold, refuse it if
   * older than the last one applied, apply it, prune, and note when it
   * verified.
   */
  #pollFeed(): Promise<void> {
    const url = this.#feedUrl;
    if (url === null) return Promise.resolve();
    return this.#feedLock.run(async () => {
      const fullDue = this.#fullAt === null || this.#now() - this.#fullAt >= FULL_LIST_EVERY;
      const asked = fullDue ? null : this.#cursor;
      let body: Uint8Array;
      try {
        body = await get(this.#fetch, url, asked, MAX_ENVELOPE_LEN, this.#timeoutMs);
      } catch (error) {
        // A cursor the server no longer accepts (its database was replaced):
        // start again from the full list.
        if (error instanceof StatusError && error.status === 400 && asked !== null) {
          this.#cursor = null;
          throw new LoadError('the revocation feed refused our cursor: the next poll starts from the full list');
        }
        throw error;
      }
      let feed: string;
      try {
        const envelope = parseStrict(body);
        if (!isObject(envelope) || typeof envelope.feed !== 'string') throw new Error();
        feed = envelope.feed;
      } catch {
        throw new LoadError(`${redact(url)} is not a revocation feed document`);
      }
      const now = this.#now();
      let page: FeedPage;
      try {
        page = await verifyFeed(feed, this.#keys, this.#policy, asked, now);
      } catch (error) {
        // Signed by a key published since our last refresh.
        if (!(error instanceof LoadError && 'reason' in error && error.reason === 'token:unknown_key')) throw error;
        await this.#refreshKeys(true);
        page = await verifyFeed(feed, this.#keys, this.#policy, asked, now);
      }
      if (this.#lastIssuedAt !== null && page.issuedAt < this.#lastIssuedAt) {
        throw new LoadError('revocation feed page is older than the last one applied');
      }
      this.#denylist.apply(page);
      this.#denylist.prune(now - this.#policy.leeway);
      if (page.full) this.#fullAt = now;
      this.#cursor = page.next;
      this.#lastIssuedAt = page.issuedAt;
      this.#feedVerifiedAt = now;
    });
  }
}
