// Figures for @informly/verifier (issue 18):
//
// 1. Verifications per second on a cached key, ours against the raw library
//    call it wraps, on the same token and key: `paseto`'s v4.public Verify for
//    PASETO, `jose`'s compactVerify (what we call) and jwtVerify (what a
//    service would call on its own) for JWT. Target: our rules cost ≤ 1.2×.
// 2. The revocation delay against the real server: a token revoked through
//    the API, polled every 50 ms until refused, against the documented bound
//    (feed interval 5 s + 6 s, plus one request).
//
//   npm run build && node bench/verify.mjs [--rounds 7] [--iterations 3000] [--delay-samples 5] [--no-service]
//
// INFORMLY_BIN points at the server binary (default: the repo's target/debug/informly).

import { compactVerify, importJWK, jwtVerify } from 'jose';
import { PublicProtocol } from 'paseto';
import { ImportPublicKeyFactory, VerifyFactory } from 'paseto/v4/public';

import { InvalidTokenError, Verifier } from '../dist/index.js';
import { claims, feedPage, jwtKey, NOW, pasetoKey } from '../test/support/forge.mjs';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const ROUNDS = option('--rounds', 7);
const ITERATIONS = option('--iterations', 3000);
const DELAY_SAMPLES = option('--delay-samples', 5);

/** Wall-clock ops/s, and CPU µs per op (all threads: WebCrypto runs on the libuv pool). */
async function measure(fn) {
  const start = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  for (let i = 0; i < ITERATIONS; i++) await fn();
  const used = process.cpuUsage(cpu);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { ops: ITERATIONS / seconds, cpu: (used.user + used.system) / ITERATIONS };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function throughput() {
  const paseto = pasetoKey(new Uint8Array(32).fill(7));
  const jwt = await jwtKey(new Uint8Array(32).fill(9));
  const feed = () => paseto.sign(JSON.stringify(feedPage()), undefined, 'informly:revocation-feed:v2');
  const documents = {
    '/.well-known/paserk.json': { keys: [{ kid: paseto.kid, paserk: paseto.paserk, status: 'active' }] },
    '/.well-known/jwks.json': { keys: [jwt.jwk] },
  };
  const verifier = await Verifier.create({
    baseUrl: 'http://informly.test',
    fetch: async (url) => {
      const path = new URL(url).pathname;
      return Response.json(path === '/v1/revocations' ? { feed: feed() } : documents[path]);
    },
    clock: () => (NOW + 10) * 1000,
    stalenessSeconds: 1e9,
  });
  verifier.close();

  const pasetoToken = paseto.sign(JSON.stringify(claims('rfc3339')));
  const jwtToken = jwt.sign(claims('numeric'));
  const v4 = new PublicProtocol(ImportPublicKeyFactory, VerifyFactory);
  const pasetoLibKey = await v4.ImportPublicKey(paseto.paserk);
  const joseKey = await importJWK({ kty: 'OKP', crv: 'Ed25519', x: jwt.x }, 'EdDSA');
  const now = new Date((NOW + 10) * 1000);

  const pairs = [
    ['PASETO v4.public', () => verifier.verify(pasetoToken), 'paseto V4 Verify', () => v4.Verify(pasetoLibKey, pasetoToken, { now, issuer: 'informly', audience: 'informly-api', clockTolerance: 30 })],
    ['JWT EdDSA', () => verifier.verify(jwtToken), 'jose compactVerify', () => compactVerify(jwtToken, joseKey, { algorithms: ['EdDSA'] })],
    ['JWT EdDSA', () => verifier.verify(jwtToken), 'jose jwtVerify', () => jwtVerify(jwtToken, joseKey, { algorithms: ['EdDSA'], issuer: 'informly', audience: 'informly-api', typ: 'at+jwt', currentDate: now, clockTolerance: 30 })],
  ];
  // Both sides must succeed before they are timed.
  for (const [, ours, , raw] of pairs) {
    await ours();
    await raw();
  }
  console.log(`## Verifications per second on a cached key (${ROUNDS} interleaved rounds × ${ITERATIONS} sequential awaits, medians)`);
  console.log('| Token | Ours (ops/s) | Raw library call | Raw (ops/s) | Ours / raw, wall time | Ours / raw, CPU time |');
  console.log('|---|---|---|---|---|---|');
  for (const [format, ours, rawName, raw] of pairs) {
    for (let i = 0; i < 300; i++) {
      await ours();
      await raw();
    }
    const oursRuns = [];
    const rawRuns = [];
    // Interleaved rounds, so drift in the machine's speed hits both sides.
    for (let round = 0; round < ROUNDS; round++) {
      oursRuns.push(await measure(ours));
      rawRuns.push(await measure(raw));
    }
    const o = median(oursRuns.map((r) => r.ops));
    const r = median(rawRuns.map((r) => r.ops));
    const oc = median(oursRuns.map((r) => r.cpu));
    const rc = median(rawRuns.map((r) => r.cpu));
    console.log(`| ${format} | ${o.toFixed(0)} | ${rawName} | ${r.toFixed(0)} | ${(r / o).toFixed(3)}× | ${(oc / rc).toFixed(3)}× |`);
  }
}

async function revocationDelay() {
  const { ServerWithApp } = await import('../test/support/service.mjs');
  const s = await ServerWithApp.start();
  const verifier = await Verifier.create({ baseUrl: s.server.base });
  const delays = [];
  try {
    for (let i = 0; i < DELAY_SAMPLES; i++) {
      const { token, id } = await s.issue(['contacts:read'], i % 2 === 0 ? 'paseto' : 'jwt');
      await verifier.verify(token);
      const start = performance.now();
      await s.revoke(id);
      for (;;) {
        try {
          await verifier.verify(token);
        } catch (error) {
          if (error instanceof InvalidTokenError && error.reason === 'revoked') break;
          throw error;
        }
        if (performance.now() - start > 60_000) throw new Error('not refused within 60 s');
        await new Promise((r) => setTimeout(r, 50));
      }
      delays.push((performance.now() - start) / 1000);
      // Spread the samples over the poll cycle.
      await new Promise((r) => setTimeout(r, 1300 * (i + 1)));
    }
  } finally {
    verifier.close();
    await s.stop();
  }
  console.log(`\n## Revocation delay against the real server (${DELAY_SAMPLES} samples, default intervals)`);
  console.log('| min | median | max | documented bound |');
  console.log('|---|---|---|---|');
  const fmt = (x) => `${x.toFixed(2)} s`;
  console.log(`| ${fmt(Math.min(...delays))} | ${fmt(median(delays))} | ${fmt(Math.max(...delays))} | 11 s + one request |`);
}

console.log(`node ${process.version}, ${process.arch}`);
await throughput();
if (!args.includes('--no-service')) await revocationDelay();
