import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ENTRY = fileURLToPath(new URL('../../src/agent/cli-main.ts', import.meta.url));

/** Runs the agent-only entry (what bin/kiln.js starts for `kiln agent`). */
function run(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', ENTRY, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
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
});
