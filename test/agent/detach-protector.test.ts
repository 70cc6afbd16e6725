import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURE = fileURLToPath(new URL('fixtures/detach-after-start.ts', import.meta.url));

/** Which functions got optimized code before the wasm memory grew, and which of those it dropped as it grew. */
function runFixture(spent: boolean): { optimized: boolean; dropped: string[] } {
  const r = spawnSync(process.execPath, ['--trace-opt', '--trace-deopt-verbose', '--import', 'tsx', FIXTURE, ...(spent ? ['spent'] : [])], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0) throw new Error(`fixture failed (${r.status}): ${r.stderr.slice(-2000)}`);
  const [before, after] = r.stdout.split('### optimized');
  expect(after, 'the fixture printed no marker').toContain('### grown');
  const optimized = /\[completed optimizing .*<JSFunction sumWords .*\(target TURBOFAN\)\]/.test(before!);
  const dropped = [...after!.matchAll(/^\[marking dependent code .*<SharedFunctionInfo ([^>]*)>.* reason: code dependencies\]$/gm)].map((m) => m[1]!);
  return { optimized, dropped };
}

describe('the ArrayBuffer detach protector, spent at the agent start (detach-protector.ts)', () => {
  it('drops a typed-array reader optimized before the first detach (what the agent avoids)', () => {
    // If this fails, node no longer deoptimizes on the first detach, and spending it at start is not needed.
    const { optimized, dropped } = runFixture(false);
    expect(optimized).toBe(true);
    expect(dropped).toContain('sumWords');
  });

  it('keeps that code when the agent start spent the protector first', () => {
    const { optimized, dropped } = runFixture(true);
    expect(optimized).toBe(true);
    expect(dropped).toEqual([]);
  });
});
