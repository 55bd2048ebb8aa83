// The verifier against the real `informly` server (issue 18): a downstream
// Node service's view of keys and revocations over HTTP.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { InvalidTokenError, StaleRevocationsError, Verifier, fetchAuth } from '../dist/index.js';
import { eventually, ServerWithApp } from './support/service.mjs';

/** The documented bound at the default feed interval (5 s): interval + 6 s, plus one request (1 s). */
const FRESHNESS_BOUND_MS = (5 + 6 + 1) * 1000;

async function refusedWith(promise, reason) {
  await assert.rejects(promise, (error) => error instanceof InvalidTokenError && error.reason === reason);
}

test('valid tokens of both formats verify with their app, workspace and scopes', async () => {
  const s = await ServerWithApp.start();
  const verifier = await Verifier.create({ baseUrl: s.server.base });
  try {
    const own = await s.server.request('GET', '/v1/token', s.admin);
    for (const format of ['paseto', 'jwt']) {
      const { token, id } = await s.issue(['contacts:read', 'coupons:validate'], format);
      const verified = await verifier.verify(token);
      assert.equal(verified.tokenId, id);
      assert.equal(verified.appId, s.app);
      assert.equal(verified.workspace, own.json.workspace);
      assert.deepEqual(verified.scopes, ['contacts:read', 'coupons:validate']);
      assert.equal(verified.format, format);
      assert.ok(verified.expiresAt.getTime() > Date.now() + 3500_000);
      assert.equal(verified.require('contacts:read'), verified);
      assert.throws(() => verified.require('contacts:write'), { name: 'InsufficientScopeError', scope: 'contacts:write' });
    }
    // The admin token is a token of the service too: no app, admin scopes only.
    const admin = await verifier.verify(s.admin);
    assert.equal(admin.appId, null);
    assert.ok(admin.scopes.includes('apps:read'));
  } finally {
    verifier.close();
    await s.stop();
  }
});

test('the fetch-style wrapper answers 200, 401 and 403 as the service does', async () => {
  const s = await ServerWithApp.start();
  const verifier = await Verifier.create({ baseUrl: s.server.base });
  try {
    const handler = fetchAuth(verifier, 'contacts:read', (_request, token) => Response.json({ app: token.appId }));
    const call = (authorization) =>
      handler(new Request('http://downstream.test/hello', { headers: authorization ? { authorization } : {} }));
    const reader = await s.issue(['contacts:read']);
    const writer = await s.issue(['contacts:write']);

    const ok = await call(`Bearer ${reader.token}`);
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { app: s.app });

    const none = await call(undefined);
    assert.equal(none.status, 401);
    assert.equal(none.headers.get('www-authenticate'), 'Bearer realm="informly"');

    const forbidden = await call(`Bearer ${writer.token}`);
    assert.equal(forbidden.status, 403);
    assert.equal(forbidden.headers.get('www-authenticate'), 'Bearer realm="informly", error="insufficient_scope", scope="contacts:read"');

    // Compare with the service itself on the same refused token.
    await s.revoke(reader.id);
    const service = await fetch(`${s.server.base}/v1/contacts`, { headers: { authorization: `Bearer ${reader.token}` } });
    const refused = await eventually(FRESHNESS_BOUND_MS, async () => (await call(`Bearer ${reader.token}`)).status === 401);
    assert.notEqual(refused, null, 'the revoked token was not refused within the bound');
    const ours = await call(`Bearer ${reader.token}`);
    assert.equal(ours.headers.get('www-authenticate'), service.headers.get('www-authenticate'));
    assert.equal(ours.headers.get('content-type'), 'application/problem+json');
    assert.equal((await ours.json()).detail, (await service.json()).detail);
  } finally {
    verifier.close();
    await s.stop();
  }
});

test('a token revoked through the API is refused within the freshness bound', async () => {
  const s = await ServerWithApp.start();
  const verifier = await Verifier.create({ baseUrl: s.server.base });
  try {
    for (const format of ['paseto', 'jwt']) {
      const { token, id } = await s.issue(['contacts:read'], format);
      await verifier.verify(token);
      await s.revoke(id);
      const took = await eventually(FRESHNESS_BOUND_MS, async () => {
        try {
          await verifier.verify(token);
          return false;
        } catch (error) {
          return error instanceof InvalidTokenError && error.reason === 'revoked';
        }
      });
      assert.notEqual(took, null, `${format}: still accepted ${FRESHNESS_BOUND_MS} ms after its revocation`);
    }
  } finally {
    verifier.close();
    await s.stop();
  }
});

test('tokens keep verifying while the service is stopped, and revocations known before stay enforced', async () => {
  const s = await ServerWithApp.start();
  const verifier = await Verifier.create({ baseUrl: s.server.base });
  try {
    const kept = await s.issue(['contacts:read'], 'paseto');
    const gone = await s.issue(['contacts:read'], 'jwt');
    await s.revoke(gone.id);
    await verifier.pollRevocations();
    await s.server.stop();
    await assert.rejects(verifier.pollRevocations(), { name: 'LoadError' });
    assert.equal((await verifier.verify(kept.token)).tokenId, kept.id);
    await refusedWith(verifier.verify(gone.token), 'revoked');
  } finally {
    verifier.close();
    s.server.home.remove();
  }
});

test('past the staleness bound without the service every token is refused', async () => {
  const s = await ServerWithApp.start();
  let now = Date.now();
  const verifier = await Verifier.create({ baseUrl: s.server.base, stalenessSeconds: 60, clock: () => now });
  try {
    const { token } = await s.issue(['contacts:read']);
    await verifier.verify(token);
    await s.server.stop();
    await assert.rejects(verifier.pollRevocations());
    now += 60_000;
    await verifier.verify(token); // at the bound
    now += 1_000;
    await assert.rejects(verifier.verify(token), (e) => e instanceof StaleRevocationsError);
  } finally {
    verifier.close();
    s.server.home.remove();
  }
});

test('tokens of a rotated key verify, and tokens of a retired key are refused', async () => {
  const s = await ServerWithApp.start();
  const verifier = await Verifier.create({ baseUrl: s.server.base, keyRefreshMinSeconds: 1, keyRefreshSeconds: 2 });
  try {
    const old = [];
    for (const format of ['paseto', 'jwt']) {
      const { token } = await s.issue(['contacts:read'], format);
      old.push({ token, kid: (await verifier.verify(token)).kid });
    }
    // Publish first, sign later: the server reloads its keys every 2 s.
    await s.server.home.cli('keys', 'rotate', '--activate-after', '3');
    const rotated = [];
    for (const [i, format] of ['paseto', 'jwt'].entries()) {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const { token } = await s.issue(['contacts:read'], format);
        const verified = await verifier.verify(token);
        if (verified.kid !== old[i].kid) {
          rotated.push(token);
          break;
        }
        assert.ok(Date.now() < deadline, `${format}: the new key never signed`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    for (const { kid } of old) await s.server.home.cli('keys', 'retire', kid);
    for (const { token } of old) {
      const refused = await eventually(8_000, async () => {
        try {
          await verifier.verify(token);
          return false;
        } catch (error) {
          return error instanceof InvalidTokenError && ['unknown_key', 'retired_key'].includes(error.reason);
        }
      });
      assert.notEqual(refused, null, 'a token of a retired key still verifies');
    }
    for (const token of rotated) await verifier.verify(token);
  } finally {
    verifier.close();
    await s.stop();
  }
});

test('after a roll the old token is refused at its scheduled second, with the service stopped', async () => {
  const s = await ServerWithApp.start();
  let now = Date.now();
  const verifier = await Verifier.create({ baseUrl: s.server.base, stalenessSeconds: 3600, clock: () => now });
  try {
    const old = await s.issue(['contacts:read']);
    await verifier.verify(old.token);
    const rolled = await s.server.request('POST', `/v1/apps/${s.app}/tokens/${old.id}/roll`, s.admin, {
      expires_in: '30d',
      overlap: '10m',
    });
    assert.equal(rolled.status, 201);
    assert.equal(rolled.json.replaces, old.id);
    const records = await s.server.request('GET', `/v1/apps/${s.app}/tokens`, s.admin);
    const record = records.json.data.find((r) => r.id === old.id);
    assert.equal(record.status, 'rolling');
    const takesEffect = Date.parse(record.revoked_at);

    // The verifier learns the schedule, then the service goes away.
    await verifier.pollRevocations();
    await s.server.stop();
    await assert.rejects(verifier.pollRevocations());

    now = takesEffect - 1000;
    await verifier.verify(old.token);
    await verifier.verify(rolled.json.token);
    now = takesEffect;
    await refusedWith(verifier.verify(old.token), 'revoked');
    await verifier.verify(rolled.json.token);
  } finally {
    verifier.close();
    s.server.home.remove();
  }
});
