// HTTP for the verifier: GETs with a timeout and a body size cap, and URLs as
// errors show them (without credentials).

import { LoadError } from './errors.js';

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

/** An answer other than 200. */
export class StatusError extends LoadError {
  override name = 'StatusError';
  constructor(readonly url: string, readonly status: number) {
    super(`${url} answered HTTP ${status}`);
  }
}

/** A URL as errors show it: without any `user:password@`. */
export function redact(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    return parsed.toString();
  } catch {
    return url.replace(/\/\/[^/@]*@/, '//');
  }
}

/** GETs `url` (with `?since=` when given), reading at most `max` bytes, within `timeoutMs`. */
export async function get(fetchFn: FetchLike, url: string, since: string | null, max: number, timeoutMs: number): Promise<Uint8Array> {
  const shown = redact(url);
  let target = url;
  if (since !== null) {
    const withQuery = new URL(url);
    withQuery.searchParams.set('since', since);
    target = withQuery.toString();
  }
  const signal = AbortSignal.timeout(timeoutMs);
  let response: Response;
  try {
    response = await fetchFn(target, { signal, redirect: 'error', headers: { accept: 'application/json' } });
  } catch (error) {
    const message = error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error);
    throw new LoadError(`cannot fetch ${shown}: ${message}`);
  }
  if (response.status !== 200) {
    await response.body?.cancel().catch(() => undefined);
    throw new StatusError(shown, response.status);
  }
  const tooLarge = () => new LoadError(`${shown} answered more than ${max} bytes`);
  const declared = Number(response.headers.get('content-length') ?? NaN);
  if (declared > max) {
    await response.body?.cancel().catch(() => undefined);
    throw tooLarge();
  }
  if (response.body === null) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let length = 0;
  const reader = response.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      length += value.byteLength;
      if (length > max) {
        await reader.cancel().catch(() => undefined);
        throw tooLarge();
      }
      chunks.push(value);
    }
  } catch (error) {
    if (error instanceof LoadError) throw error;
    throw new LoadError(`cannot fetch ${shown}: ${error instanceof Error ? error.message : String(error)}`);
  }
  return Buffer.concat(chunks, length);
}
