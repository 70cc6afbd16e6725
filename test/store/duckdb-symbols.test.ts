import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CPU_TYPE, DictionaryBuilder, labelsFrom, type Profile } from '../../src/model/index.js';
import { dictionaryIds } from '../../src/model/ids.js';
import { openDuckDB } from '../../src/store/index.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/**
 * 5 000 new stacks in one write: several 2 048-row column chunks per symbol table and a partial last
 * one, stacks 0–40 frames deep, frames with several lines, none, or no mapping (empty and null list
 * items), function names outside ASCII.
 */
function manyStacks(): Profile {
  const b = new DictionaryBuilder();
  const bin = b.mapping('/usr/lib/libwide.so', 'b1d');
  const stacks: number[] = [];
  for (let s = 0; s < 5000; s++) {
    const frames: number[] = [];
    for (let d = 0; d < s % 41; d++) {
      const k = (s * 7 + d) % 9000;
      if (k % 11 === 0) frames.push(b.location(-1, BigInt(0x4000 + k), []));
      else if (k % 13 === 0) frames.push(b.location(bin, BigInt(k), [{ function: b.function(`inlined_${k}`), line: k }, { function: b.function(`caller_ü_${k}`), line: k + 1 }]));
      else frames.push(b.location(bin, BigInt(k), [{ function: b.function(`fn_${k}`), line: k % 300 }]));
    }
    frames.push(b.location(bin, 1n, [{ function: b.function(`root_${s % 3}`), line: 1 }]));
    stacks.push(b.stack(frames));
  }
  return {
    type: CPU_TYPE,
    labels: labelsFrom({ service_name: 'wide' }),
    timeMs: Date.UTC(2026, 0, 20, 5),
    durationNs: 10e9,
    period: 1e9 / 19,
    dict: b.dict,
    stacks,
    values: stacks.map((_, i) => 1 + (i % 5)),
  };
}

describe('DuckDB symbol rows', () => {
  it('stores thousands of new stacks, locations and functions in one commit and gives every frame back after reopening', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'kiln-duckdb-symbols-'));
    dirs.push(dir);
    const p = manyStacks();
    let store = await openDuckDB(dir, { threads: 1 });
    const distinct = new Set(p.stacks).size; // equal frames make one stack
    expect(distinct).toBeGreaterThan(2 * 2048);
    expect(await store.write('t', [p])).toEqual({ profiles: 1, rows: distinct });
    await store.close();
    store = await openDuckDB(dir, { threads: 1 });
    try {
      const ids = dictionaryIds(p.dict);
      const wanted = p.stacks.map((s) => ids.stacks[s]!);
      const resolved = await store.resolveStacks('t', wanted);
      const framesOf = (dict: Profile['dict'], stack: readonly number[]) =>
        stack.map((l) => {
          const loc = dict.locations[l]!;
          const m = loc.mapping >= 0 ? dict.mappings[loc.mapping]! : undefined;
          return { m, address: loc.lines.length > 0 ? 0n : loc.address, lines: loc.lines.map((ln) => ({ ...dict.functions[ln.function]!, line: ln.line })) };
        });
      for (const [i, s] of p.stacks.entries()) {
        const got = resolved.stacks.get(wanted[i]!);
        expect(got, `stack ${i}`).toBeDefined();
        const norm = (fs: ReturnType<typeof framesOf>) => fs.map((f) => ({ ...f, address: f.lines.length > 0 ? 0n : f.address }));
        expect(norm(framesOf(resolved.dict, resolved.dict.stacks[got!]!)), `stack ${i}`).toEqual(norm(framesOf(p.dict, p.dict.stacks[s]!)));
      }
    } finally {
      await store.close();
    }
  });
});
