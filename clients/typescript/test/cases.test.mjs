// Every case of testdata/verifier-cases.json — the file the Rust remote
// verifier and the Python package run too — through this package: the case's
// key documents and feed answers are served by an injected fetch, its times by
// an injected clock, and the outcome must be the one the file expects.
// Format: testdata/README.md.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { InvalidTokenError, LoadError, StaleRevocationsError, Verifier } from '../dist/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const FILE = resolve(here, '../../../testdata/verifier-cases.json');
let file;
try {
  file = JSON.parse(readFileSync(FILE, 'utf8'));
} catch (error) {
  test('the shared case file is there', () => {
    assert.fail(`cannot read ${FILE} (${error.message}): write it with \`cargo run --example verifier_cases\``);
  });
}

/** Our reasons (the Rust core's `token::Error`) onto the file's coarser ones. */
const COARSE = {
  too_large: 'too_large',
  unsupported_format: 'malformed',
  malformed: 'malformed',
  non_canonical: 'malformed',
  bad_footer: 'malformed',
  missing_key_id: 'malformed',
  algorithm: 'malformed',
  wrong_type: 'malformed',
  forbidden_header: 'malformed',
  unknown_key: 'unknown_key',
  retired_key: 'unknown_key',
  wrong_key_format: 'unknown_key',
  bad_signature: 'bad_signature',
  invalid_claims: 'invalid_claims',
  lifetime_too_long: 'invalid_claims',
  wrong_issuer: 'wrong_issuer',
  wrong_audience: 'wrong_audience',
  expired: 'expired',
  not_yet_valid: 'not_yet_valid',
  issued_in_future: 'not_yet_valid',
  revoked: 'revoked',
};

/** Runs one case: `{ outcome, reason?, token? }`. */
async function run(c) {
  const clock = { now: (c.polls[0]?.at ?? c.now) * 1000 };
  let poll = 0;
  let current = null;
  // `keys` names a set of documents at the top of the file.
  const docs = typeof c.keys === 'string' ? file.keys[c.keys] : c.keys;
  const fetch = async (url) => {
    const path = new URL(url).pathname;
    if (path === '/.well-known/paserk.json') return Response.json(docs.paserk);
    if (path === '/.well-known/jwks.json') return Response.json(docs.jwks);
    if (path === '/v1/revocations') {
      const answer = current ?? { status: 503, body: '' };
      return new Response(answer.body, { status: answer.status, headers: { 'content-type': 'application/json' } });
    }
    return new Response('', { status: 404 });
  };
  let verifier;
  current = c.polls[0] ?? null;
  try {
    verifier = await Verifier.create({
      baseUrl: 'http://informly.test',
      fetch,
      clock: () => clock.now,
      issuer: file.policy.issuer,
      audience: file.policy.audience,
      leewaySeconds: file.policy.leeway,
      maxLifetimeSeconds: file.policy.max_lifetime,
      maxAdminLifetimeSeconds: file.policy.max_admin_lifetime,
      stalenessSeconds: file.policy.staleness,
    });
  } catch (error) {
    if (error instanceof LoadError) return { outcome: 'load_error' };
    throw error;
  }
  try {
    verifier.close();
    for (poll = 1; poll < c.polls.length; poll++) {
      current = c.polls[poll];
      clock.now = current.at * 1000;
      // A refused page is a failed poll, as in the background: the verifier goes on.
      await verifier.pollRevocations().catch(() => undefined);
    }
    current = { status: 503, body: '' };
    clock.now = c.now * 1000;
    try {
      const token = await verifier.verify(c.token);
      return { outcome: 'accept', token };
    } catch (error) {
      if (error instanceof InvalidTokenError) return { outcome: 'reject', reason: COARSE[error.reason], exact: error.reason };
      if (error instanceof StaleRevocationsError) return { outcome: 'reject', reason: 'stale', exact: 'stale' };
      throw error;
    }
  } finally {
    verifier.close();
  }
}

if (file !== undefined) test(`${FILE} is a case file this runner reads`, () => {
  assert.equal(file.format, 'informly-verifier-cases');
  assert.equal(file.version, 1);
  assert.equal(file.feed_assertion, 'informly:revocation-feed:v2');
  assert.ok(file.cases.length > 0);
});

for (const c of file?.cases ?? []) {
  test(`${c.name}${c.row ? ` (${c.row})` : ''}: ${c.title}`, async () => {
    const got = await run(c);
    const expect = c.expect;
    assert.equal(got.outcome, expect.outcome, `${c.name}: ${got.outcome}${got.exact ? ` (${got.exact})` : ''}, expected ${expect.outcome} ${expect.reason ?? ''} ${expect.detail ?? ''}`);
    if (expect.outcome === 'reject') {
      assert.equal(got.reason, expect.reason, `${c.name}: refused as ${got.exact}, expected ${expect.reason} (${expect.detail})`);
    }
    if (expect.outcome === 'accept') {
      const { token } = got;
      const claims = expect.claims;
      assert.equal(token.format, claims.format);
      assert.equal(token.tokenId, claims.token_id);
      assert.equal(token.appId, claims.app_id);
      assert.equal(token.workspace, claims.workspace);
      assert.deepEqual([...token.scopes], claims.scopes);
      assert.equal(token.expiresAt.getTime(), claims.expires_at * 1000);
      for (const scope of expect.lacks ?? []) {
        assert.throws(() => token.require(scope), { name: 'InsufficientScopeError', scope });
      }
      for (const scope of claims.scopes) token.require(scope);
    }
  });
}
