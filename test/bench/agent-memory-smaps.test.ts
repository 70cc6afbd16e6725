import { describe, expect, it } from 'vitest';
import { breakdown, classify, parseSmaps } from '../../bench/agent-memory-smaps.js';

/** One smaps entry: header line plus the fields the classifier reads. */
function entry(range: string, perms: string, path: string, rssKiB: number): string {
  return `${range} ${perms} 00000000 00:00 0 ${path}\nSize: 4 kB\nRss: ${rssKiB} kB\nPss: ${rssKiB / 2} kB\nAnonymous: ${path ? 0 : rssKiB} kB\n`;
}

const NODE = '/usr/bin/node';
const SMAPS = [
  entry('00400000-00500000', 'r-xp', NODE, 1000),
  entry('05000000-05100000', 'rw-p', '[heap]', 900),
  // V8 pages: 256 KiB-aligned starts, one regular and one longer (a large object).
  entry('2faa40000-2faa80000', 'rw-p', '', 256),
  entry('1b4607980000-1b4607c74000', 'rw-p', '', 3024),
  // A thread arena: 64 MiB-aligned start, the rest of its 64 MiB reserved.
  entry('7ff688000000-7ff6880eb000', 'rw-p', '', 880),
  entry('7ff6880eb000-7ff68c000000', '---p', '', 0),
  // A thread stack behind its guard page.
  entry('7ff6be7fd000-7ff6be7fe000', '---p', '', 0),
  entry('7ff6be7fe000-7ff6beffe000', 'rw-p', '', 24),
  // A malloc mmap of a large buffer: page-aligned only.
  entry('7ff6c405a000-7ff6c457c000', 'rw-p', '', 5256),
  entry('7ff6c5000000-7ff6c5100000', 'rw-s', 'anon_inode:bpf-map', 512),
  entry('7ff6c6000000-7ff6c6100000', 'r-xp', '/usr/lib/x86_64-linux-gnu/libc.so.6', 300),
  entry('7ff6c7000000-7ff6c7100000', 'r-xp', '/work/node_modules/koffi/build/koffi.node', 200),
].join('');

describe('agent memory by owner from smaps', () => {
  it('sorts each mapping to its owner by path and shape', () => {
    expect(classify(parseSmaps(SMAPS), NODE)).toEqual([
      'node binary',
      'malloc main heap',
      'V8 heap pages (256 KiB-aligned)',
      'V8 heap pages (256 KiB-aligned)',
      'malloc thread arenas',
      "reserved, no access (guards, arenas' rest)",
      "reserved, no access (guards, arenas' rest)",
      'thread stacks',
      'other anonymous (malloc mmaps: large buffers, working memory)',
      'BPF maps mapped',
      'shared libraries',
      'native addons (.node)',
    ]);
  });

  it('adds up resident and proportional KiB per owner', () => {
    const b = breakdown(parseSmaps(SMAPS), NODE);
    expect(b.rssKiB).toBe(1000 + 900 + 256 + 3024 + 880 + 24 + 5256 + 512 + 300 + 200);
    expect(b.byOwner.get('V8 heap pages (256 KiB-aligned)')).toEqual({ rssKiB: 3280, pssKiB: 1640 });
    expect(b.byOwner.get('other anonymous (malloc mmaps: large buffers, working memory)')!.rssKiB).toBe(5256);
  });
});
