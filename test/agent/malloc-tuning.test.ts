import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURE = fileURLToPath(new URL('./fixtures/malloc-holes.ts', import.meta.url));

function run(mode: 'tuned' | 'plain', blockKiB = 256): { tuned: boolean; returnedMiB: number } {
  const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', FIXTURE, mode, String(blockKiB)], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`fixture failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as { tuned: boolean; returnedMiB: number };
}

describe('agent malloc settings (glibc)', () => {
  it('returns freed large buffers to the kernel, where untuned glibc keeps them resident', () => {
    const tuned = run('tuned');
    expect(tuned.tuned).toBe(true);
    // 50 MiB of 256 KiB buffers freed between long-lived 16 KiB ones.
    expect(tuned.returnedMiB).toBeGreaterThan(40);
    // The control: the same pattern without the settings keeps most of it (why the agent sets them).
    expect(run('plain').returnedMiB).toBeLessThan(20);
  });
});
