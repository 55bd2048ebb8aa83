// The real `informly` binary for the tests: a server on a random port with a
// temp SQLite database and keys directory, its CLI, and its HTTP API.
// INFORMLY_BIN points at the binary (default: the repo's target/debug/informly,
// which `cargo test` / `cargo build` makes).

import { spawn, execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
export const BIN = process.env.INFORMLY_BIN ?? resolve(here, '../../../../target/debug/informly');

/** A home: a temp directory with a keys directory and an SQLite file, shared by the CLI and servers. */
export class Home {
  constructor() {
    if (!existsSync(BIN)) {
      throw new Error(`no informly binary at ${BIN}: run \`cargo build\` in the repo, or set INFORMLY_BIN`);
    }
    this.dir = mkdtempSync(join(tmpdir(), 'informly-ts-'));
    this.keys = join(this.dir, 'keys');
    mkdirSync(this.keys, { mode: 0o700 });
    this.db = join(this.dir, 'informly.db');
    writeFileSync(this.db, '');
    chmodSync(this.db, 0o600);
  }

  env() {
    return {
      PATH: process.env.PATH ?? '',
      INFORMLY_DATABASE_URL: `sqlite://${this.db}`,
      INFORMLY_KEYS_DIR: this.keys,
    };
  }

  /** Runs the CLI; its stdout, trimmed. */
  async cli(...args) {
    const { stdout } = await run(BIN, args, { cwd: this.dir, env: this.env() });
    return stdout.trim();
  }

  remove() {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** `informly serve` on 127.0.0.1, a random port. */
export class Server {
  static async start(home = new Home()) {
    const child = spawn(BIN, ['serve', '--listen', '127.0.0.1:0'], {
      cwd: home.dir,
      env: home.env(),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const log = [];
    const address = await new Promise((resolvePromise, reject) => {
      const timer = setTimeout(() => reject(new Error(`server did not start:\n${log.join('')}`)), 20_000);
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (chunk) => {
        log.push(chunk);
        const found = /address=(\S+)/.exec(log.join(''));
        if (found) {
          clearTimeout(timer);
          resolvePromise(found[1]);
        }
      });
      child.on('exit', (code) => reject(new Error(`server exited (${code}):\n${log.join('')}`)));
    });
    const server = new Server();
    server.home = home;
    server.child = child;
    server.base = `http://${address}`;
    return server;
  }

  async request(method, path, token, body) {
    const headers = {};
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(this.base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await response.text();
    return { status: response.status, json: text === '' ? null : JSON.parse(text) };
  }

  /** SIGTERM, and wait for the exit. */
  async stop() {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    await exited;
  }
}

/** A server, an admin token and one app. */
export class ServerWithApp {
  static async start() {
    const s = new ServerWithApp();
    s.server = await Server.start();
    s.admin = await s.server.home.cli('admin-token');
    const app = await s.server.request('POST', '/v1/apps', s.admin, { name: 'downstream' });
    if (app.status !== 201) throw new Error(`create app: ${app.status}`);
    s.app = app.json.id;
    return s;
  }

  /** Issues a token through the API: `{ token, id }`. */
  async issue(scopes, format = 'paseto') {
    const issued = await this.server.request('POST', `/v1/apps/${this.app}/tokens`, this.admin, {
      scopes,
      expires_in: '1h',
      format,
    });
    if (issued.status !== 201) throw new Error(`issue: ${issued.status}`);
    return { token: issued.json.token, id: issued.json.id };
  }

  async revoke(id) {
    const revoked = await this.server.request('DELETE', `/v1/apps/${this.app}/tokens/${id}`, this.admin);
    if (revoked.status >= 300) throw new Error(`revoke: ${revoked.status}`);
  }

  async stop() {
    await this.server.stop();
    this.server.home.remove();
  }
}

/** Polls `check` every 100 ms until it is true or `withinMs` pass; the time it took, or null. */
export async function eventually(withinMs, check) {
  const start = performance.now();
  for (;;) {
    if (await check()) return performance.now() - start;
    if (performance.now() - start > withinMs) return null;
    await new Promise((r) => setTimeout(r, 100));
  }
}
