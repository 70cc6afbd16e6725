import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerConfig } from '../../src/config/server-config.js';
import { parseServerConfig } from '../../src/config/server-config.js';
import { parseConfigYaml, resolveConfig } from '../../src/agent/config.js';
import { agentCommand } from '../../src/cli/agent.js';
import { runKiln } from '../support/cli.js';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';

/** `kiln token create` as an operator runs it, and the CLI using the token against a real server. */
let dir: string;
let srv: TestServer | undefined;
let live: ServerConfig = { unknownSections: [] };
const CPU = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds';

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'kiln-token-'));
});
afterAll(async () => {
  await srv?.close();
  await rm(dir, { recursive: true, force: true });
});

/** The token line and the YAML block the command prints. */
function parseOutput(stdout: string): { token: string; yaml: string } {
  const token = /^token: (\S+)$/m.exec(stdout)?.[1];
  const yaml = stdout.slice(stdout.indexOf('auth:\n'));
  if (!token || !yaml.startsWith('auth:')) throw new Error(`unexpected output:\n${stdout}`);
  return { token, yaml };
}

describe('kiln token create', () => {
  it('prints a new random token and a config entry whose sha256 is the token\'s', async () => {
    const r = await runKiln(['token', 'create', '--name', 'shop-team', '--tenant', 'acme', '--scope', '{namespace=~"shop-.*"}'], { timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(0);
    const { token, yaml } = parseOutput(r.stdout);
    expect(token).toMatch(/^kiln_[A-Za-z0-9_-]{43}$/);
    const entry = parseServerConfig(yaml, 'kiln.yaml').auth!.tokens[0]!;
    expect(entry.sha256.toString('hex')).toBe(createHash('sha256').update(token).digest('hex'));
    expect(entry).toMatchObject({ name: 'shop-team', tenants: ['acme'], role: 'read', scopeText: '{namespace=~"shop-.*"}' });
    const again = parseOutput((await runKiln(['token', 'create', '--name', 'x'], { timeoutMs: 30_000 })).stdout);
    expect(again.token).not.toBe(token);
  }, 60_000);

  it('--out writes the token to a file only its owner can read, and a bad scope is refused before anything is printed', async () => {
    const file = path.join(dir, 'agent.token');
    const r = await runKiln(['token', 'create', '--name', 'agents', '--tenant', 'acme', '--role', 'write', '--out', file], { timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(/kiln_/);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const token = (await readFile(file, 'utf8')).trim();
    const entry = parseServerConfig(r.stdout.slice(r.stdout.indexOf('auth:\n')), 'kiln.yaml').auth!.tokens[0]!;
    expect(entry.sha256.toString('hex')).toBe(createHash('sha256').update(token).digest('hex'));
    const bad = await runKiln(['token', 'create', '--name', 'x', '--scope', '{namespace=~"('], { timeoutMs: 30_000 });
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toMatch(/scope/);
  }, 60_000);
});

describe('--token-file on the CLI', () => {
  it('reads and writes a server with auth: — and without the file is told 401', async () => {
    const created = parseOutput((await runKiln(['token', 'create', '--name', 'ops', '--tenant', 'acme', '--role', 'admin'], { timeoutMs: 30_000 })).stdout);
    live = parseServerConfig(created.yaml, 'kiln.yaml');
    srv = await startTestServer({ config: () => live });
    const tokenFile = path.join(dir, 'ops.token');
    await writeFile(tokenFile, `${created.token}\n`);
    const folded = path.join(dir, 'cpu.folded');
    await writeFile(folded, 'main;work 30\nmain;idle 10\n');
    const auth = ['--url', srv.url, '--token-file', tokenFile];
    const ingest = await runKiln(['ingest', folded, '--labels', 'service_name=svc', '--format', 'folded', ...auth], { timeoutMs: 60_000 });
    expect(ingest.code, ingest.stderr).toBe(0);
    const top = await runKiln(['query', 'top', `${CPU}{service_name="svc"}`, '--from', 'now-30d', '--json', ...auth], { timeoutMs: 60_000 });
    expect(top.code, top.stderr).toBe(0);
    expect(top.stdout).toContain('work');
    const anonymous = await runKiln(['query', 'top', `${CPU}{}`, '--url', srv.url], { timeoutMs: 60_000 });
    expect(anonymous.code).toBe(2);
    expect(anonymous.stderr).toMatch(/401.*token/);
    const missing = await runKiln(['query', 'top', `${CPU}{}`, '--url', srv.url, '--token-file', path.join(dir, 'nope')], { timeoutMs: 60_000 });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--token-file .*ENOENT/);
  }, 180_000);
});

describe('--token-file on the agent', () => {
  it('is a flag and a config key, both meaning the bearer token file the exporter sends', () => {
    expect(agentCommand().helpInformation()).toContain('--token-file <file>');
    expect(resolveConfig(parseConfigYaml('token_file: /etc/kiln/agent.token\n'), {}).bearerTokenFile).toBe('/etc/kiln/agent.token');
    expect(resolveConfig({}, { bearerTokenFile: '/etc/kiln/agent.token' }).bearerTokenFile).toBe('/etc/kiln/agent.token');
  });
});
