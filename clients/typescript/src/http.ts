// Framework glue that answers as the Informly service does (src/http/auth.rs,
// src/http/error.rs): the bearer token only from the one Authorization header,
// 401 with an RFC 6750 `invalid_token` challenge, 403 `insufficient_scope`
// naming the scope, 503 while the revocation list is stale, each with an
// RFC 9457 problem body. Tokens are never logged nor echoed.

import { InsufficientScopeError, InvalidTokenError, StaleRevocationsError } from './errors.js';
import { MAX_TOKEN_LEN } from './token.js';
import type { VerifiedToken, Verifier } from './verifier.js';

export interface GuardOptions {
  /** The scope the route requires (403 without it). */
  scope?: string;
  /** The challenge's realm (default `informly`, as the service). */
  realm?: string;
}

/** What to answer instead of serving the request. */
export interface Refusal {
  status: 400 | 401 | 403 | 503;
  headers: Record<string, string>;
  body: { type: string; title: string; status: number; detail: string };
}

function refusal(status: Refusal['status'], slug: string, detail: string, challenge: string | null): Refusal {
  const titles = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 503: 'Service Unavailable' };
  const headers: Record<string, string> = { 'content-type': 'application/problem+json' };
  if (challenge !== null) headers['www-authenticate'] = challenge;
  return { status, headers, body: { type: `urn:informly:problem:${slug}`, title: titles[status], status, detail } };
}

/**
 * Checks a request's Authorization header values (all of them, as received)
 * and the token in it: the verified token, or the answer to give.
 */
export async function authorize(
  verifier: Verifier,
  authorization: readonly string[],
  options: GuardOptions = {},
): Promise<{ token: VerifiedToken } | { refusal: Refusal }> {
  const realm = options.realm ?? 'informly';
  const bare = `Bearer realm="${realm}"`;
  const invalid = (why: string) =>
    refusal(401, 'invalid-token', why, `${bare}, error="invalid_token", error_description="${why}"`);
  const send = 'send `Authorization: Bearer <token>`';
  if (authorization.length === 0) {
    return { refusal: refusal(401, 'unauthorized', 'this endpoint needs a bearer token in the Authorization header', bare) };
  }
  // Two headers (or two values folded into one: a token has no comma).
  if (authorization.length > 1 || authorization[0]!.includes(',')) {
    const why = 'send one Authorization header';
    return { refusal: refusal(400, 'invalid-request', why, `${bare}, error="invalid_request", error_description="${why}"`) };
  }
  const value = authorization[0]!;
  const space = value.indexOf(' ');
  let scheme: string;
  let rest: string;
  if (space >= 0) {
    scheme = value.slice(0, space);
    rest = value.slice(space + 1);
  } else if (value.toLowerCase() === 'bearer') {
    scheme = value;
    rest = '';
  } else {
    return { refusal: refusal(401, 'unauthorized', `the Authorization header has no scheme: ${send}`, bare) };
  }
  if (scheme.toLowerCase() !== 'bearer') {
    // A scheme is a short word; anything else may be a credential, never repeated.
    const named = /^[A-Za-z0-9-]{1,20}$/.test(scheme);
    const detail = named
      ? `the Authorization scheme \`${scheme}\` is not supported: ${send}`
      : `the Authorization scheme is not supported: ${send}`;
    return { refusal: refusal(401, 'unauthorized', detail, bare) };
  }
  const token = rest.replace(/^ +/, '');
  if (token === '' || Buffer.byteLength(token) > MAX_TOKEN_LEN) return { refusal: invalid('invalid token') };
  let verified: VerifiedToken;
  try {
    verified = await verifier.verify(token);
  } catch (error) {
    if (error instanceof InvalidTokenError) return { refusal: invalid(error.description) };
    if (error instanceof StaleRevocationsError) {
      return { refusal: refusal(503, 'unavailable', 'the token service cannot be reached to check revocations; try again shortly', null) };
    }
    throw error;
  }
  if (options.scope !== undefined) {
    try {
      verified.require(options.scope);
    } catch (error) {
      if (!(error instanceof InsufficientScopeError)) throw error;
      return {
        refusal: refusal(
          403,
          'insufficient-scope',
          `this token lacks the scope \`${error.scope}\``,
          `${bare}, error="insufficient_scope", scope="${error.scope}"`,
        ),
      };
    }
  }
  return { token: verified };
}

// ---------------------------------------------------------------------------
// Express (and anything with its (req, res, next) shape)
// ---------------------------------------------------------------------------

/** The parts of an Express request this reads. */
export interface ExpressLikeRequest {
  rawHeaders?: string[];
  headers: Record<string, string | string[] | undefined>;
  informly?: VerifiedToken;
}

/** The parts of an Express response this writes. */
export interface ExpressLikeResponse {
  status(code: number): this;
  set(headers: Record<string, string>): this;
  send(body: string): unknown;
  locals?: Record<string, unknown>;
}

/** Every Authorization header value of a Node request (Node keeps only the first in `headers`). */
function nodeAuthorization(req: ExpressLikeRequest): string[] {
  if (Array.isArray(req.rawHeaders)) {
    const values: string[] = [];
    for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
      if (req.rawHeaders[i]!.toLowerCase() === 'authorization') values.push(req.rawHeaders[i + 1]!);
    }
    return values;
  }
  const value = req.headers.authorization;
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

/**
 * Express middleware: verifies the bearer token (and `scope`, when given),
 * puts the `VerifiedToken` on `req.informly` and `res.locals.informly`, or
 * answers 400/401/403/503 as the service does.
 */
export function expressAuth(verifier: Verifier, scopeOrOptions?: string | GuardOptions) {
  const options = typeof scopeOrOptions === 'string' ? { scope: scopeOrOptions } : (scopeOrOptions ?? {});
  return (req: ExpressLikeRequest, res: ExpressLikeResponse, next: (error?: unknown) => void): void => {
    authorize(verifier, nodeAuthorization(req), options).then((outcome) => {
      if ('refusal' in outcome) {
        const { status, headers, body } = outcome.refusal;
        res.status(status).set(headers).send(JSON.stringify(body));
        return;
      }
      req.informly = outcome.token;
      if (res.locals !== undefined) res.locals.informly = outcome.token;
      next();
    }, next);
  };
}

// ---------------------------------------------------------------------------
// Fetch-style servers: (Request) => Response
// ---------------------------------------------------------------------------

/**
 * Wraps a fetch-style handler (Deno, Bun, Hono, Cloudflare-style, or
 * `node:http` through an adapter): the handler runs only for a verified token
 * (with `scope`, when given) and receives it; anything else gets the
 * service's answer.
 */
export function fetchAuth<R extends Request>(
  verifier: Verifier,
  scopeOrOptions: string | GuardOptions | undefined,
  handler: (request: R, token: VerifiedToken) => Response | Promise<Response>,
): (request: R) => Promise<Response> {
  const options = typeof scopeOrOptions === 'string' ? { scope: scopeOrOptions } : (scopeOrOptions ?? {});
  return async (request: R) => {
    const value = request.headers.get('authorization');
    const outcome = await authorize(verifier, value === null ? [] : [value], options);
    if ('refusal' in outcome) {
      const { status, headers, body } = outcome.refusal;
      return new Response(JSON.stringify(body), { status, headers });
    }
    return handler(request, outcome.token);
  };
}
