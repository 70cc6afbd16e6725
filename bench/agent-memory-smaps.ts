import { readFileSync } from 'node:fs';

/**
 * A node process's resident memory by owner, from /proc/PID/smaps: which pages are node's own binary and
 * libraries (shared with every node process), which are BPF maps mapped into the process, malloc's main
 * heap, malloc's per-thread arenas, thread stacks, V8's code and heap pages, and the rest of the
 * anonymous mappings (malloc's own mmaps of 128 KiB and more: large Buffers, the agent's working memory).
 *
 * The anonymous classes are told apart by shape, since the kernel names none of them:
 * - a thread arena is a 64 MiB-aligned reservation (glibc's HEAP_MAX_SIZE): a read-write start and an
 *   inaccessible rest that together end on a 64 MiB boundary;
 * - a thread stack is a read-write mapping right after an inaccessible guard page;
 * - V8 code is anonymous and executable;
 * - a V8 heap page starts on a 256 KiB boundary (V8's page size; a large-object page is longer, of any
 *   length): V8 asks for its pages at random addresses of its own, malloc's own mmaps land wherever the
 *   kernel puts them, page-aligned only (1 in 64 of them would pass for V8's).
 * The last rule is a heuristic: check it against V8's committed heap (process.memoryUsage().heapTotal).
 */
export interface Mapping {
  readonly start: number;
  readonly end: number;
  readonly perms: string;
  readonly path: string;
  readonly rssKiB: number;
  readonly pssKiB: number;
  readonly anonKiB: number;
}

export const OWNERS = [
  'node binary',
  'shared libraries',
  'native addons (.node)',
  'other files',
  'BPF maps mapped',
  'malloc main heap',
  'malloc thread arenas',
  'thread stacks',
  'V8 code (anonymous, executable)',
  'V8 heap pages (256 KiB-aligned)',
  'other anonymous (malloc mmaps: large buffers, working memory)',
  'kernel-provided ([vdso], [vvar], [stack])',
  'reserved, no access (guards, arenas\' rest)',
] as const;
export type Owner = (typeof OWNERS)[number];

const MIB64 = 64 * 1024 * 1024;
const KIB256 = 256 * 1024;

export function parseSmaps(text: string): Mapping[] {
  const out: Mapping[] = [];
  let cur: { start: number; end: number; perms: string; path: string; rssKiB: number; pssKiB: number; anonKiB: number } | undefined;
  for (const line of text.split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (head) {
      if (cur) out.push(cur);
      cur = { start: parseInt(head[1]!, 16), end: parseInt(head[2]!, 16), perms: head[3]!, path: head[4]!.trim(), rssKiB: 0, pssKiB: 0, anonKiB: 0 };
      continue;
    }
    const field = /^(Rss|Pss|Anonymous):\s+(\d+) kB/.exec(line);
    if (cur && field) {
      const kib = Number(field[2]);
      if (field[1] === 'Rss') cur.rssKiB = kib;
      else if (field[1] === 'Pss') cur.pssKiB = kib;
      else cur.anonKiB = kib;
    }
  }
  if (cur) out.push(cur);
  return out;
}

/** Each mapping's owner, by the rules in this file's header; `nodeBinary` is the node executable's path. */
export function classify(maps: readonly Mapping[], nodeBinary: string): Owner[] {
  return maps.map((m, i): Owner => {
    if (m.path === nodeBinary) return 'node binary';
    if (m.path.startsWith('anon_inode:bpf')) return 'BPF maps mapped';
    if (m.path === '[heap]') return 'malloc main heap';
    if (m.path === '[stack]' || m.path === '[vdso]' || m.path === '[vvar]' || m.path === '[vsyscall]') return 'kernel-provided ([vdso], [vvar], [stack])';
    if (m.path.endsWith('.node')) return 'native addons (.node)';
    if (/\.so(\.|$)/.test(m.path)) return 'shared libraries';
    if (m.path !== '') return 'other files';
    if (m.perms.startsWith('---')) return 'reserved, no access (guards, arenas\' rest)';
    if (m.perms.includes('x')) return 'V8 code (anonymous, executable)';
    const next = maps[i + 1];
    const prev = maps[i - 1];
    const reservedRest = next && next.start === m.end && next.path === '' && next.perms.startsWith('---');
    if (m.start % MIB64 === 0 && (reservedRest ? next.end : m.end) % MIB64 === 0) return 'malloc thread arenas';
    if (prev && prev.end === m.start && prev.path === '' && prev.perms.startsWith('---') && prev.end - prev.start <= 64 * 1024) return 'thread stacks';
    if (m.start % KIB256 === 0) return 'V8 heap pages (256 KiB-aligned)';
    return 'other anonymous (malloc mmaps: large buffers, working memory)';
  });
}

export interface Breakdown {
  readonly rssKiB: number;
  readonly byOwner: ReadonlyMap<Owner, { rssKiB: number; pssKiB: number }>;
}

export function breakdown(maps: readonly Mapping[], nodeBinary: string): Breakdown {
  const owners = classify(maps, nodeBinary);
  const byOwner = new Map<Owner, { rssKiB: number; pssKiB: number }>(OWNERS.map((o) => [o, { rssKiB: 0, pssKiB: 0 }]));
  let rssKiB = 0;
  maps.forEach((m, i) => {
    const o = byOwner.get(owners[i]!)!;
    o.rssKiB += m.rssKiB;
    o.pssKiB += m.pssKiB;
    rssKiB += m.rssKiB;
  });
  return { rssKiB, byOwner };
}

export function readBreakdown(pid: number, nodeBinary: string): Breakdown {
  return breakdown(parseSmaps(readFileSync(`/proc/${pid}/smaps`, 'utf8')), nodeBinary);
}

/** /proc/PID/smaps_rollup's Rss, Pss, Anonymous and file-backed (Rss − Anonymous) resident KiB: cheap enough for every 100 ms. */
export function readRollup(pid: number): { rssKiB: number; pssKiB: number; anonKiB: number } {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kib = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
  return { rssKiB: kib('Rss'), pssKiB: kib('Pss'), anonKiB: kib('Anonymous') };
}
