import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodePprof } from '../../src/formats/pprof.js';
import { InputError } from '../../src/model/index.js';
import type { Profile } from '../../src/model/index.js';
import { runDecodeTask } from '../../src/server/decode-tasks.js';
import { DEFAULT_TENANT_LIMITS } from '../../src/server/limits.js';
import { pprofFiles } from '../support/testdata.js';

/**
 * A decode thread inflates pprofs into one buffer it keeps (compression.ts GunzipInto), lent to one
 * decode at a time. Without a pool the tasks run on the event loop and interleave at their awaits: what
 * a user checks is that every request still stores its own profile — the same totals as decoding it alone.
 */
const totals = (profiles: readonly Profile[]): string[] =>
  profiles.map((p) => `${p.type.name}:${p.type.sampleType}=${p.values.reduce((a, v) => a + Number(v), 0)}`).sort();

const task = (body: Uint8Array) => ({ kind: 'format' as const, format: 'pprof', body, limits: DEFAULT_TENANT_LIMITS, name: 'app.cpu{pod=a}', timeMs: 1_768_200_000_000 });

describe('pprof bodies inflated into the thread\'s kept buffer', () => {
  const bodies = pprofFiles()
    .map((f) => readFileSync(f))
    .map((raw) => (raw[0] === 0x1f && raw[1] === 0x8b ? raw : gzipSync(raw)));

  it('requests decoded at once on one thread each store their own totals, as decoded alone', async () => {
    const alone = bodies.map((b) => {
      try {
        return totals(decodePprof(b, { name: 'app.cpu{pod=a}', timeMs: 1_768_200_000_000 }));
      } catch (e) {
        if (e instanceof InputError) return [`error ${e.status}`];
        throw e;
      }
    });
    expect(alone.filter((t) => !t[0]!.startsWith('error')).length).toBeGreaterThan(10);
    const outcome = (p: Promise<{ profiles: readonly Profile[] }>) =>
      p.then(
        (d) => (d.profiles.length === 0 ? ['empty'] : totals(d.profiles)),
        (e: unknown) => {
          if (e instanceof InputError) return [`error ${e.status}`];
          throw e;
        },
      );
    const together = await Promise.all(bodies.map((b) => outcome(runDecodeTask(task(b)))));
    const again = await Promise.all([...bodies].reverse().map((b) => outcome(runDecodeTask(task(b)))));
    for (let i = 0; i < bodies.length; i++) {
      if (together[i]![0] === 'empty') continue; // an empty profile is "nothing to store" here, an error alone
      expect(together[i]).toEqual(alone[i]);
      expect(again[bodies.length - 1 - i]).toEqual(alone[i]);
    }
  });

  it('a bomb refused in between leaves the next request\'s body intact', async () => {
    const bomb = gzipSync(Buffer.alloc(80 * 1024 * 1024));
    const small = { ...DEFAULT_TENANT_LIMITS, maxDecompressedBytes: 1024 * 1024 };
    const first = bodies.find((b) => b.length > 1000)!;
    const expected = totals((await runDecodeTask(task(first))).profiles);
    await expect(runDecodeTask({ ...task(bomb), limits: small })).rejects.toMatchObject({ status: 413 });
    expect(totals((await runDecodeTask(task(first))).profiles)).toEqual(expected);
  });
});
