import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { collapsePerfScript, parsePerfScript } from '../../src/formats/perf-script.js';
import type { PerfScriptOptions } from '../../src/formats/perf-script.js';
import { toFolded } from '../../src/formats/folded.js';
import { parseProfileType, profileTotal } from '../../src/model/index.js';
import { requireTestdata } from '../support/testdata.js';

const dir = requireTestdata('perf/flamegraph-tests');
const inputs = readdirSync(dir).filter((f) => f.endsWith('.txt')).sort();
const OPTIONS = ['pid', 'tid', 'kernel', 'jit', 'all', 'addrs'] as const;
const sortedLines = (s: string) => s.split('\n').filter((l) => l !== '').sort();
const TYPE = parseProfileType('process_cpu:samples:count:cpu:nanoseconds');

describe('perf script → folded equals stackcollapse-perf.pl, file × option', () => {
  it('the corpus has all eight inputs', () => expect(inputs.length).toBe(8));
  for (const file of inputs) {
    const base = file.replace(/\.txt$/, '');
    for (const opt of OPTIONS) {
      it(`${base} --${opt}`, () => {
        const want = readFileSync(path.join(dir, 'results', `${base}-collapsed-${opt}.txt`), 'utf8');
        const got = collapsePerfScript(readFileSync(path.join(dir, file), 'utf8'), { [opt]: true } as PerfScriptOptions);
        expect(sortedLines(got)).toEqual(sortedLines(want));
      });
    }
    it(`${base} with no option: the --kernel result without its _[k] marks`, () => {
      // The corpus has no option-less result; --kernel differs from the default only by the marks.
      const kernel = readFileSync(path.join(dir, 'results', `${base}-collapsed-kernel.txt`), 'utf8');
      const want = new Map<string, number>();
      for (const line of sortedLines(kernel)) {
        const sp = line.lastIndexOf(' ');
        const stack = line.slice(0, sp).replace(/_\[k\](?=;|$)/g, '');
        want.set(stack, (want.get(stack) ?? 0) + Number(line.slice(sp + 1)));
      }
      const got = collapsePerfScript(readFileSync(path.join(dir, file), 'utf8'));
      expect(sortedLines(got)).toEqual([...want].map(([k, v]) => `${k} ${v}`).sort());
    });
  }
});

describe('the big example-perf-stacks.txt.gz', () => {
  const text = gunzipSync(readFileSync(path.join(requireTestdata('perf'), 'example-perf-stacks.txt.gz'))).toString('utf8');

  it('collapses every sample of the first event, with clean frame names', () => {
    // Independent count: blank-line-terminated samples whose header names the first event seen.
    const headers = text.split('\n').filter((l) => /^\S/.test(l) && !l.startsWith('#'));
    const firstEvent = headers[0]!.trim().split(/\s+/).pop();
    const samples = text.split(/\n\n/).filter((block) => {
      const header = block.split('\n').find((l) => /^\S/.test(l) && !l.startsWith('#'));
      return header !== undefined && header.trim().split(/\s+/).pop() === firstEvent;
    });
    const folded = collapsePerfScript(text);
    const lines = sortedLines(folded);
    const total = lines.reduce((s, l) => s + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
    expect(total).toBe(samples.length);
    for (const l of lines) {
      expect(l).toMatch(/^[^;]+(;[^;]*)* \d+$/);
      expect(l).not.toMatch(/\+0x[0-9a-f]+(;| )/);
    }
  });

  it('parsePerfScript gives the same stacks and counts as the folded text', () => {
    const p = parsePerfScript(text, { type: TYPE });
    expect(toFolded(p)).toBe(collapsePerfScript(text).split('\n').filter(Boolean).sort().map((l) => `${l}\n`).join(''));
    expect(profileTotal(p)).toBeGreaterThan(0);
    // Frames keep their binary as the location's mapping.
    expect(p.dict.mappings.some((m) => m.binary === '[kernel.kallsyms]')).toBe(true);
  });
});

describe('perf script details', () => {
  const sample = (header: string, ...frames: string[]) => `${header}\n${frames.map((f) => `\t${f}`).join('\n')}\n\n`;

  it('weighs a sample by the period perf printed, and keeps only the first event by default', () => {
    const text =
      sample('app 10 1.0:   250 cycles:', 'ffff0001 leaf+0x10 (/usr/bin/app)', 'ffff0002 main (/usr/bin/app)') +
      sample('app 10 1.1:   900 instructions:', 'ffff0001 leaf (/usr/bin/app)') +
      sample('app 10 1.2:   50 cycles:', 'ffff0003 other (/usr/bin/app)');
    expect(collapsePerfScript(text)).toBe('app;main;leaf 250\napp;other 50\n');
    expect(collapsePerfScript(text, { eventFilter: 'instructions' })).toBe('app;leaf 900\n');
  });

  it('drops a last sample that no blank line closes, as stackcollapse-perf.pl does', () => {
    expect(collapsePerfScript('app 1 cpu-clock:\n\tffff a (/bin/app)\n\napp 1 cpu-clock:\n\tffff b (/bin/app)\n')).toBe('app;a 1\n');
  });

  it('rejects input without a single sample', () => {
    expect(() => parsePerfScript('# only a comment\n', { type: TYPE })).toThrow(/no samples/);
  });
});
