import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = fileURLToPath(new URL('../../bin/kiln.js', import.meta.url));
const PROBE = fileURLToPath(new URL('./fixtures/young-generation-probe.mjs', import.meta.url));

/** `node bin/kiln.js <args>` (the built CLI in dist/) with the probe preloaded: the young generation's size at exit, KiB. */
function youngGenerationKiB(args: string[]): number {
  const r = spawnSync(process.execPath, ['--import', PROBE, BIN, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  expect(r.status, `${r.stderr}\n(bin/kiln.js runs dist/: npm run build first)`).toBe(0);
  const m = /^young generation KiB: (\d+)$/m.exec(r.stderr);
  expect(m, r.stderr).not.toBeNull();
  return Number(m![1]);
}

describe('bin/kiln.js', () => {
  it("keeps the agent's young generation at V8's initial size, where other verbs let it grow", () => {
    // The agent runs on every host all the time: a young generation grown to 8–16 MiB a semi-space is
    // resident memory it keeps until V8 shrinks it back (docs/BENCHMARKS.md, issue 11).
    const agent = youngGenerationKiB(['agent', '--help']);
    const other = youngGenerationKiB(['--help']);
    expect(agent).toBeLessThanOrEqual(2048);
    expect(other, 'the same work grows the young generation without the setting').toBeGreaterThan(4096);
  });
});
