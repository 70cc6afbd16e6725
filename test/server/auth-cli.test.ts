import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kilnArgs } from '../support/cli.js';
import { AUTH_YAML, TOKENS, bearer } from './auth-support.js';

/** `kiln server` as an operator starts it: the open-server warning, and auth: with direct TLS from flags. */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'kiln-auth-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Starts `kiln server ARGS`, returns its start-up log up to the "listening" line, the port, and a stop. */
function serve(args: string[]): Promise<{ log: string; port: number; stop: () => Promise<void>; hup: () => void }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, kilnArgs(['server', '--port', '0', ...args]), { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`kiln server did not start within 90 s:\n${log}`));
    }, 90_000);
    child.stderr.on('data', (d: Buffer) => {
      log += d.toString();
      const m = /listening on [^ ]+:(\d+)/.exec(log);
      if (!m) return;
      clearTimeout(timer);
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      resolve({ log, port: Number(m[1]), stop: () => (child.kill('SIGTERM'), exited), hup: () => child.kill('SIGHUP') });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`kiln server exited (${code}):\n${log}`));
    });
  });
}

describe('kiln server and auth', () => {
  it('warns at start-up when it listens on every interface without auth:', async () => {
    const s = await serve(['--host', '0.0.0.0', '--data-dir', path.join(dir, 'open')]);
    try {
      expect(s.log).toMatch(/WARNING: no auth: section .* listening on 0\.0\.0\.0: anyone who reaches this port can read and write/);
    } finally {
      await s.stop();
    }
  }, 120_000);

  it('with auth: and --tls-cert/--tls-key: no warning, HTTPS, tokens apply, and a reload (SIGHUP) removes a token', async () => {
    const cert = path.join(dir, 'cert.pem');
    const key = path.join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], {
      stdio: 'ignore',
      timeout: 30_000,
    });
    const config = path.join(dir, 'kiln.yaml');
    await writeFile(config, AUTH_YAML);
    const s = await serve(['--host', '0.0.0.0', '--data-dir', path.join(dir, 'tls'), '--config', config, '--tls-cert', cert, '--tls-key', key]);
    try {
      expect(s.log).not.toMatch(/WARNING/);
      expect(s.log).toMatch(/UI and APIs at https:\/\/localhost:/);
      const ca = await readFile(cert);
      const whoami = (headers: Record<string, string>) =>
        new Promise<{ status: number; body: string }>((resolve, reject) => {
          https
            .get(`https://127.0.0.1:${s.port}/api/v1/whoami`, { ca, headers, timeout: 10_000 }, (res) => {
              let body = '';
              res.on('data', (d: Buffer) => (body += d.toString()));
              res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
            })
            .on('error', reject);
        });
      expect((await whoami({})).status).toBe(401);
      const me = await whoami(bearer(TOKENS.shop));
      expect(me.status).toBe(200);
      expect(JSON.parse(me.body)).toMatchObject({ principal: 'shop-team', tenant: 'acme' });
      // The operator removes the token and reloads: it is refused from then on, the others still work.
      await writeFile(config, AUTH_YAML.replace(/    - name: shop-team[\s\S]*?scope: .*\n/, ''));
      s.hup();
      await expect.poll(async () => (await whoami(bearer(TOKENS.shop))).status, { timeout: 10_000 }).toBe(401);
      expect((await whoami(bearer(TOKENS.admin))).status).toBe(200);
    } finally {
      await s.stop();
    }
  }, 120_000);

  it('refuses --tls-cert without --tls-key', async () => {
    await expect(serve(['--host', '127.0.0.1', '--data-dir', path.join(dir, 'half'), '--tls-cert', 'x.pem'])).rejects.toThrow(/both --tls-cert and --tls-key/);
  }, 120_000);
});
