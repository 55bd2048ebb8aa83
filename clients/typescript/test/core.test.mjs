// The verifier's rules offline: documents and feed pages served by an
// injected fetch, the time by an injected clock. The hostile-input catalog as
// a whole runs from testdata/verifier-cases.json (cases.test.mjs); these pin
// the rules one at a time with a message per case.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { expressAuth, InvalidTokenError, StaleRevocationsError, Verifier } from '../dist/index.js';
import { claims, feedPage, IDS, jwtKey, NOW, pasetoKey, rfc3339 } from './support/forge.mjs';

const FEED_V2 = 'informly:revocation-feed:v2';

/** A fake Informly server behind an injected fetch. */
async function fakeService({ feed } = {}) {
  const paseto = pasetoKey(new Uint8Array(32).fill(7));
  const jwt = await jwtKey(new Uint8Array(32).fill(9));
  const service = {
    paseto,
    jwt,
    paserkKeys: [{ kid: paseto.kid, paserk: paseto.paserk, status: 'active' }],
    jwks: [jwt.jwk],
    fetches: { paserk: 0, jwks: 0, feed: 0 },
    asked: [],
    /** The next feed answer: a function of the `since` asked. */
    feed: feed ?? ((since) => paseto.sign(JSON.stringify(feedPage({ since })), undefined, FEED_V2)),
    down: false,
    async fetch(url) {
      if (service.down) throw new TypeError('fetch failed');
      const u = new URL(url);
      if (u.pathname === '/.well-known/paserk.json') {
        service.fetches.paserk++;
        return Response.json({ keys: service.paserkKeys });
      }
      if (u.pathname === '/.well-known/jwks.json') {
        service.fetches.jwks++;
        return Response.json({ keys: service.jwks });
      }
      if (u.pathname === '/v1/revocations') {
        service.fetches.feed++;
        const since = u.searchParams.get('since');
        service.asked.push(since);
        return Response.json({ feed: service.feed(since) });
      }
      return new Response('', { status: 404 });
    },
  };
  return service;
}

async function verifierFor(service, options = {}) {
  const clock = { now: NOW * 1000 };
  const verifier = await Verifier.create({
    baseUrl: 'http://informly.test',
    fetch: service.fetch,
    clock: () => clock.now,
    ...options,
  });
  return { verifier, clock };
}

async function reasonOf(promise) {
  try {
    await promise;
    return 'accepted';
  } catch (error) {
    if (error instanceof InvalidTokenError) return error.reason;
    if (error instanceof StaleRevocationsError) return 'stale';
    throw error;
  }
}

test('the leeway of 30 s applies to exp, nbf and iat alike, at the second', async () => {
  const service = await fakeService();
  const { verifier, clock } = await verifierFor(service, { stalenessSeconds: 1e6 });
  const at = async (token, unix) => {
    clock.now = unix * 1000;
    return reasonOf(verifier.verify(token));
  };
  try {
    for (const [format, sign, times] of [
      ['paseto', (c) => service.paseto.sign(JSON.stringify(c)), 'rfc3339'],
      ['jwt', (c) => service.jwt.sign(c), 'numeric'],
    ]) {
      const token = sign(claims(times));
      assert.equal(await at(token, NOW + 3600 + 30), 'accepted', `${format}: exp + leeway`);
      assert.equal(await at(token, NOW + 3600 + 31), 'expired', `${format}: past exp + leeway`);
      assert.equal(await at(token, NOW - 30), 'accepted', `${format}: nbf - leeway`);
      assert.equal(await at(token, NOW - 31), 'not_yet_valid', `${format}: before nbf - leeway`);
      const early = sign(claims(times, { nbf: times === 'rfc3339' ? rfc3339(NOW - 100) : NOW - 100 }));
      assert.equal(await at(early, NOW - 31), 'issued_in_future', `${format}: iat past now + leeway`);
    }
  } finally {
    verifier.close();
  }
});

test('token strings and claims are read as strictly as the service reads them', async () => {
  const service = await fakeService();
  const { verifier } = await verifierFor(service);
  const { paseto, jwt } = service;
  const payload = JSON.stringify(claims('rfc3339'));
  const cases = [
    ['a PASETO with duplicate exp (C10)', paseto.sign(payload.replace('"exp":', '"exp":"2000-01-01T00:00:00Z","exp":')), 'invalid_claims'],
    ['a PASETO footer with another key (C6)', paseto.sign(payload, JSON.stringify({ kid: paseto.kid, role: 'admin' })), 'bad_footer'],
    ['a PASETO footer that is not JSON (C3)', paseto.sign(payload, 'arbitrary-string'), 'bad_footer'],
    ['a PASERK public key as kid (C4)', paseto.sign(payload, JSON.stringify({ kid: paseto.paserk })), 'bad_footer'],
    ['a PASETO without footer (F6)', paseto.sign(payload, ''), 'missing_key_id'],
    ['a trailing dot (B14)', paseto.sign(payload, '') + '.', 'non_canonical'],
    ['a PASETO signed with the feed assertion (C9)', paseto.sign(payload, undefined, FEED_V2), 'bad_signature'],
    ['lowercase t in a time (C13)', paseto.sign(JSON.stringify(claims('rfc3339', { exp: rfc3339(NOW + 3600).replace('T', 't') }))), 'invalid_claims'],
    ['a numeric exp in a PASETO (C12)', paseto.sign(JSON.stringify(claims('rfc3339', { exp: NOW + 3600 }))), 'invalid_claims'],
    ['a JSON array payload (C11)', paseto.sign('[{"sub":"x"}]'), 'invalid_claims'],
    ['a lone surrogate in a claim', paseto.sign(payload.replace('"contacts:read"', '"contacts:read\\ud800"')), 'invalid_claims'],
    ['a JWT with duplicate alg (D11)', jwt.sign(claims('numeric'), `{"alg":"EdDSA","alg":"none","typ":"at+jwt","kid":"${jwt.kid}"}`), 'malformed'],
    ['a JWT with alg none (D1)', jwt.sign(claims('numeric'), { alg: 'none', typ: 'at+jwt', kid: jwt.kid }), 'algorithm'],
    ['a JWT with alg Ed25519 (D4)', jwt.sign(claims('numeric'), { alg: 'Ed25519', typ: 'at+jwt', kid: jwt.kid }), 'algorithm'],
    ['a JWT with crit: null (D7)', jwt.sign(claims('numeric'), { alg: 'EdDSA', typ: 'at+jwt', kid: jwt.kid, crit: null }), 'forbidden_header'],
    ['a JWT carrying its own jwk (D8)', jwt.sign(claims('numeric'), { alg: 'EdDSA', typ: 'at+jwt', kid: jwt.kid, jwk: jwt.jwk }), 'forbidden_header'],
    ['a JWT with typ JWT (D5)', jwt.sign(claims('numeric'), { alg: 'EdDSA', typ: 'JWT', kid: jwt.kid }), 'wrong_type'],
    ['a JWT exp of 1e300 (E7)', jwt.sign(JSON.stringify(claims('numeric')).replace(/"exp":\d+/, '"exp":1e300')), 'invalid_claims'],
    ['a JWT exp of -1 (E7)', jwt.sign(claims('numeric', { exp: -1 })), 'invalid_claims'],
    ['a JWT with scope as an array (H6)', jwt.sign(claims('numeric', { scope: ['contacts:read'] })), 'invalid_claims'],
    ['a JWT audience of ["other"] (E9)', jwt.sign(claims('numeric', { aud: ['other'] })), 'wrong_audience'],
    ['an issuer with a trailing slash (E10)', jwt.sign(claims('numeric', { iss: 'informly/' })), 'wrong_issuer'],
    ['ten years of lifetime (E6)', jwt.sign(claims('numeric', { exp: NOW + 3650 * 86400 })), 'lifetime_too_long'],
    ['an admin scope on an app token', jwt.sign(claims('numeric', { scope: 'apps:read' })), 'invalid_claims'],
    ['a JWT kid naming the PASETO key (F7)', jwt.sign(claims('numeric'), { alg: 'EdDSA', typ: 'at+jwt', kid: paseto.kid }), 'wrong_key_format'],
    ['a padded JWT signature (B9)', jwt.sign(claims('numeric')) + '==', 'non_canonical'],
    ['a signature one byte short (B7)', jwt.sign(claims('numeric')).slice(0, -2), 'bad_signature'],
    ['9 KiB of token (A8)', 'v4.public.' + 'A'.repeat(9 * 1024), 'too_large'],
    ['a v4.local token (B3)', 'v4.local.' + 'A'.repeat(100), 'unsupported_format'],
    ['an uppercase header (B5)', paseto.sign(payload).replace('v4.public.', 'V4.PUBLIC.'), 'unsupported_format'],
  ];
  try {
    for (const [what, token, reason] of cases) {
      assert.equal(await reasonOf(verifier.verify(token)), reason, what);
    }
    // The same audience in an array of several is ours (E9).
    assert.equal(await reasonOf(verifier.verify(jwt.sign(claims('numeric', { aud: ['other', 'informly-api'] })))), 'accepted');
    // `application/at+jwt` in any case is the same type (D6).
    assert.equal(
      await reasonOf(verifier.verify(jwt.sign(claims('numeric'), { alg: 'EdDSA', typ: 'application/AT+JWT', kid: jwt.kid }))),
      'accepted',
    );
  } finally {
    verifier.close();
  }
});

test('a key of small order in the JWKS verifies nothing', async () => {
  const service = await fakeService();
  // The identity point (y = 1): with R = identity and S = 0 it "verifies" any message.
  const identity = Buffer.alloc(32);
  identity[0] = 1;
  const x = identity.toString('base64url');
  const { jwtKid } = await import('../dist/keys.js');
  const kid = await jwtKid(x);
  service.jwks.push({ kty: 'OKP', crv: 'Ed25519', x, kid });
  const { verifier } = await verifierFor(service);
  try {
    const header = Buffer.from(JSON.stringify({ alg: 'EdDSA', typ: 'at+jwt', kid })).toString('base64url');
    const body = Buffer.from(JSON.stringify(claims('numeric'))).toString('base64url');
    const forged = `${header}.${body}.${Buffer.concat([identity, Buffer.alloc(32)]).toString('base64url')}`;
    assert.equal(await reasonOf(verifier.verify(forged)), 'bad_signature');
  } finally {
    verifier.close();
  }
});

test('revocations, app cutoffs and scheduled revocations from the feed are honoured at the second', async () => {
  const service = await fakeService();
  const other = 'tok_01J0000000000000000000000D';
  const rolled = 'tok_01J0000000000000000000000E';
  service.feed = (since) =>
    service.paseto.sign(
      JSON.stringify(
        feedPage({
          since,
          revoked: [
            { jti: other, exp: rfc3339(NOW + 3600), from: null },
            { jti: rolled, exp: rfc3339(NOW + 3600), from: rfc3339(NOW + 600) },
          ],
          cutoffs: [{ client_id: 'app_01J0000000000000000000000F', cutoff: rfc3339(NOW), exp: rfc3339(NOW + 86400) }],
        }),
      ),
      undefined,
      FEED_V2,
    );
  const { verifier, clock } = await verifierFor(service, { stalenessSeconds: 1e6 });
  const sign = (overrides) => service.jwt.sign(claims('numeric', overrides));
  try {
    assert.equal(await reasonOf(verifier.verify(sign({}))), 'accepted', 'not listed');
    assert.equal(await reasonOf(verifier.verify(sign({ jti: other }))), 'revoked', 'revoked at once');
    clock.now = (NOW + 599) * 1000;
    assert.equal(await reasonOf(verifier.verify(sign({ jti: rolled }))), 'accepted', 'the second before its schedule');
    clock.now = (NOW + 600) * 1000;
    assert.equal(await reasonOf(verifier.verify(sign({ jti: rolled }))), 'revoked', 'from its scheduled second');
    const app = 'app_01J0000000000000000000000F';
    assert.equal(await reasonOf(verifier.verify(sign({ sub: app, client_id: app }))), 'revoked', 'iat == cutoff (inclusive)');
    assert.equal(
      await reasonOf(verifier.verify(sign({ sub: app, client_id: app, iat: NOW + 1, nbf: NOW + 1 }))),
      'accepted',
      'issued after the cutoff',
    );
  } finally {
    verifier.close();
  }
});

test('feed pages are refused unless signed for v2, fresh, for our cursor and not older than the last', async () => {
  const service = await fakeService();
  const { verifier, clock } = await verifierFor(service);
  const page = (overrides, assertion = FEED_V2) => () => service.paseto.sign(JSON.stringify(feedPage(overrides)), undefined, assertion);
  const refusal = async () => {
    try {
      await verifier.pollRevocations();
      return 'applied';
    } catch (error) {
      return error.reason ?? error.message;
    }
  };
  try {
    // The cursor of the first (full) page is sent next time.
    service.feed = page({ since: 'MTc2NDI5MjEzMjAwMDAwMKv', full: false });
    assert.equal(await refusal(), 'applied');
    assert.equal(service.asked.at(-1), 'MTc2NDI5MjEzMjAwMDAwMKv');

    service.feed = page({ since: 'MTc2NDI5MjEzMjAwMDAwMKv', full: false }, 'informly:revocation-feed:v1');
    assert.equal(await refusal(), 'token:bad_signature', 'a v1 page');
    service.feed = page({ since: 'c29tZW9uZSBlbHNl', full: false });
    assert.equal(await refusal(), 'cursor_mismatch');
    service.feed = page({ since: 'MTc2NDI5MjEzMjAwMDAwMKv', full: false, extra: 1 });
    assert.equal(await refusal(), 'invalid', 'an unknown member');
    service.feed = page({ since: 'MTc2NDI5MjEzMjAwMDAwMKv', full: false, revoked: [{ jti: IDS.token, exp: rfc3339(NOW + 60) }] });
    assert.equal(await refusal(), 'invalid', 'a revoked entry without from');
    clock.now = (NOW + 91) * 1000;
    service.feed = page({ since: 'MTc2NDI5MjEzMjAwMDAwMKv', full: false });
    assert.equal(await refusal(), 'expired', 'a page past exp + leeway');
    clock.now = NOW * 1000;
    service.feed = page({ since: 'MTc2NDI5MjEzMjAwMDAwMKv', full: false, iat: rfc3339(NOW - 10) });
    assert.match(await refusal(), /older than the last one applied/);
    service.feed = (since) => service.jwt.sign({ since });
    assert.equal(await refusal(), 'token:unsupported_format', 'a JWT as a feed');
  } finally {
    verifier.close();
  }
});

test('no verified page within the staleness bound fails closed; create fails without a first page', async () => {
  const service = await fakeService();
  const { verifier, clock } = await verifierFor(service, { stalenessSeconds: 60 });
  const token = service.paseto.sign(JSON.stringify(claims('rfc3339')));
  try {
    service.down = true;
    clock.now = (NOW + 60) * 1000;
    assert.equal(await reasonOf(verifier.verify(token)), 'accepted', 'at the bound');
    clock.now = (NOW + 61) * 1000;
    assert.equal(await reasonOf(verifier.verify(token)), 'stale', 'past it');
    // Garbage is still refused for what it is.
    assert.equal(await reasonOf(verifier.verify('garbage')), 'unsupported_format');
  } finally {
    verifier.close();
  }
  await assert.rejects(verifierFor(service), { name: 'LoadError' });
  await assert.rejects(Verifier.create({ baseUrl: 'http://informly.test', fetch: service.fetch, withoutRevocations: false, revocationsUrl: undefined, paserkUrl: undefined }), {
    name: 'LoadError',
  });
});

test('a flood of unknown key ids costs at most one key fetch per interval, shared by concurrent callers', async () => {
  const service = await fakeService();
  const { verifier } = await verifierFor(service, { keyRefreshMinSeconds: 0.5 });
  const stranger = pasetoKey();
  const token = stranger.sign(JSON.stringify(claims('rfc3339')));
  try {
    // The first load was a refresh too: wait out its interval.
    await new Promise((r) => setTimeout(r, 600));
    const before = service.fetches.paserk;
    const answers = await Promise.all(Array.from({ length: 50 }, () => reasonOf(verifier.verify(token))));
    assert.deepEqual(new Set(answers), new Set(['unknown_key']));
    assert.equal(service.fetches.paserk - before, 1);
    // Within the interval: no fetch at all.
    await reasonOf(verifier.verify(token));
    assert.equal(service.fetches.paserk - before, 1);
    assert.equal(verifier.status().keyRefreshes, 2);
  } finally {
    verifier.close();
  }
});

test('a token of a key published after the last refresh verifies at once', async () => {
  const service = await fakeService();
  const { verifier } = await verifierFor(service, { keyRefreshMinSeconds: 0 });
  const next = pasetoKey(new Uint8Array(32).fill(11));
  try {
    service.paserkKeys.push({ kid: next.kid, paserk: next.paserk, status: 'pending' });
    assert.equal(await reasonOf(verifier.verify(next.sign(JSON.stringify(claims('rfc3339'))))), 'accepted');
    service.paserkKeys[1].status = 'retired';
    await verifier.refreshKeys();
    assert.equal(await reasonOf(verifier.verify(next.sign(JSON.stringify(claims('rfc3339'))))), 'retired_key');
  } finally {
    verifier.close();
  }
});

test('the Express middleware answers 400, 401, 403 and 503 as the service does, and hands on the token', async () => {
  const service = await fakeService();
  const { verifier, clock } = await verifierFor(service);
  const run = async (rawHeaders, scope = 'contacts:read') => {
    const req = { rawHeaders, headers: {} };
    const res = {
      locals: {},
      code: 200,
      headers: {},
      status(code) {
        this.code = code;
        return this;
      },
      set(headers) {
        Object.assign(this.headers, headers);
        return this;
      },
      send(body) {
        this.body = JSON.parse(body);
      },
    };
    let nextCalled = false;
    await new Promise((resolve) => {
      res.send = (body) => {
        res.body = JSON.parse(body);
        resolve();
      };
      expressAuth(verifier, scope)(req, res, () => {
        nextCalled = true;
        resolve();
      });
    });
    return { req, res, nextCalled };
  };
  const token = service.paseto.sign(JSON.stringify(claims('rfc3339')));
  try {
    const ok = await run(['Authorization', `bearer ${token}`]);
    assert.ok(ok.nextCalled);
    assert.equal(ok.req.informly.tokenId, IDS.token);
    assert.equal(ok.res.locals.informly.appId, IDS.app);

    const none = await run(['Host', 'x']);
    assert.equal(none.res.code, 401);
    assert.equal(none.res.headers['www-authenticate'], 'Bearer realm="informly"');

    const two = await run(['Authorization', `Bearer ${token}`, 'authorization', `Bearer ${token}`]);
    assert.equal(two.res.code, 400);
    assert.match(two.res.headers['www-authenticate'], /error="invalid_request"/);

    const empty = await run(['Authorization', 'Bearer']);
    assert.equal(empty.res.code, 401);
    assert.equal(empty.res.headers['www-authenticate'], 'Bearer realm="informly", error="invalid_token", error_description="invalid token"');

    const scope = await run(['Authorization', `Bearer ${token}`], 'contacts:delete');
    assert.equal(scope.res.code, 403);
    assert.equal(scope.res.headers['www-authenticate'], 'Bearer realm="informly", error="insufficient_scope", scope="contacts:delete"');
    assert.equal(scope.res.body.detail, 'this token lacks the scope `contacts:delete`');

    clock.now = (NOW + 3600 + 31) * 1000;
    const expired = await run(['Authorization', `Bearer ${token}`]);
    assert.equal(expired.res.code, 401);
    assert.match(expired.res.headers['www-authenticate'], /error_description="token expired"/);

    service.down = true;
    clock.now = (NOW + 301) * 1000;
    const stale = await run(['Authorization', `Bearer ${token}`]);
    assert.equal(stale.res.code, 503);
    assert.equal(stale.res.headers['www-authenticate'], undefined);
  } finally {
    verifier.close();
  }
});
