import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ENTRY = fileURLToPath(new URL('../../src/agent/cli-main.ts', import.meta.url));
const RECORD_IMPORTS = fileURLToPath(new URL('./fixtures/record-imports.mjs', import.meta.url));

/** Runs the agent-only entry (what bin/kiln.js starts for `kiln agent`). */
function run(args: string[], nodeFlags: string[] = []) {
  const r = spawnSync(process.execPath, [...nodeFlags, '--import', 'tsx', ENTRY, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('kiln agent entry point (bin/kiln.js agent)', () => {
  it('prints the same help as `kiln agent --help` and exits 0', () => {
    const r = run(['agent', '--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Usage: kiln agent [options]');
    expect(r.stdout).toContain('--frequency <hz>');
  });

  it('exits 2 on a bad flag, like the full CLI', () => {
    const r = run(['agent', '--no-such-flag']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("unknown option '--no-such-flag'");
  });

  it('parses a valid command line without loading commander (≈ 3 MiB the running agent does without)', () => {
    // --frequency 0 is parsed, then refused by the settings check: the same message and exit code as the full CLI.
    const r = run(['agent', '--metrics-port', '-1', '--frequency', '0'], ['--import', RECORD_IMPORTS]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^kiln agent: .*frequency/m);
    const loaded = [...r.stderr.matchAll(/^resolved (\S+)$/gm)].map((m) => m[1]!);
    expect(loaded.some((u) => u.endsWith('/src/agent/agent.ts')), 'the recorder sees the agent itself').toBe(true);
    expect(loaded.filter((u) => u.includes('/node_modules/commander/'))).toEqual([]);
  });

  it('loads neither prom-client, the protobuf runtime, generated code, YAML nor the server', () => {
    // Each of these costs the agent RSS it has no use for at run time (prom-client ≈ 10 MiB, the
    // protobuf runtime with the generated OTLP code ≈ 11 MiB): /metrics and the OTLP bytes are written by hand.
    const r = run(['agent', '--help'], ['--import', RECORD_IMPORTS]);
    expect(r.status, r.stderr).toBe(0);
    const loaded = [...r.stderr.matchAll(/^resolved (\S+)$/gm)].map((m) => m[1]!);
    expect(loaded.some((u) => u.endsWith('/src/agent/agent.ts')), 'the recorder sees the agent itself').toBe(true);
    expect(loaded.some((u) => u.includes('/node_modules/koffi/')), 'and its packages').toBe(true);
    const unwanted = loaded.filter((u) => /\/node_modules\/(prom-client|@bufbuild|yaml|fastify|@duckdb|@connectrpc)\/|\/src\/(gen|server|store|query)\//.test(u));
    expect(unwanted).toEqual([]);
  });
});
