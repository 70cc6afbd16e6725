/**
 * What writing unwind tables into the BPF `unwind_rows` array costs the agent, two ways side by side
 * in one process: the array mapped whole for the agent's life (as before: one copy per table, and the
 * kernel maps every page of a BPF array at mmap, so the whole array counts in the agent's RSS), and a
 * window mapped for each table and unmapped after the copy (src/agent/unwind/table-store.ts).
 *
 *   sudo npx tsx bench/unwind-upload.ts [rounds=7]
 *
 * The tables are those of node, python3 and libc, compiled once before timing: the figures are the
 * upload (packing the page index and writing the slots), not the .eh_frame compile that precedes it.
 * Rounds alternate the two ways; each round loads the three tables into a fresh store. Prints
 * Markdown: CPU ms per round (median), and RSS / file-backed RSS of this process after each way.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { BpfProfiler } from '../src/agent/loader.js';
import { ElfFile } from '../src/agent/symbolize/elf.js';
import { unwindTableOf, type UnwindTable } from '../src/agent/unwind/rows.js';
import { TableStore, type MapWindow } from '../src/agent/unwind/table-store.js';

const rounds = Number(process.argv[2] ?? 7);
if (process.getuid?.() !== 0) throw new Error('run as root: loading the BPF object needs it');

const libc = /\s(\/\S*\/libc\.so\.6)$/m.exec(readFileSync('/proc/self/maps', 'utf8'))?.[1];
const binaries = [process.execPath, realpathSync('/usr/bin/python3'), libc].filter((p): p is string => p !== undefined);
const tables = new Map<string, UnwindTable>();
for (const path of binaries) {
  const t = unwindTableOf(ElfFile.open(path));
  if (t) tables.set(path, t);
}

/** RSS and its file-backed part (a mapped BPF array is counted there), MiB. */
function rss(): { rss: number; file: number } {
  const status = readFileSync('/proc/self/status', 'utf8');
  const kib = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: kib('VmRSS') / 1024, file: kib('RssFile') / 1024 };
}

const bpf = BpfProfiler.start({ frequencyHz: 1, stackMapSize: 64, countsMapSize: 64 });
const lib = bpf.lib;
const fd = bpf.mapFd('unwind_rows');
const rss0 = rss();
const whole = lib.mmapMap(fd, bpf.unwindRows * 8);
if (!whole) throw new Error('unwind_rows cannot be mapped');
const ways: Record<'whole' | 'window', MapWindow> = {
  whole: (offset, length) => ({ bytes: whole.bytes.subarray(offset, offset + length), unmap: () => {} }),
  window: (offset, length) => lib.mmapMap(fd, length, offset),
};
const rssWhole = rss();
const cpu: Record<'whole' | 'window', number[]> = { whole: [], window: [] };
for (let r = 0; r < rounds; r++) {
  for (const way of ['whole', 'window'] as const) {
    const store = new TableStore(lib, fd, bpf.unwindRows, ways[way], lib.pageSize());
    const t0 = process.cpuUsage();
    for (const [path, t] of tables) if (!store.acquire(`${path}#${r}`, () => t)) throw new Error(`${path}: not loaded`);
    const d = process.cpuUsage(t0);
    cpu[way].push((d.user + d.system) / 1000);
  }
}
whole.unmap();
const rssAfter = rss();
bpf.close();

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rows = [...tables.values()].reduce((n, t) => n + t.count, 0);
console.log(`bench/unwind-upload.ts, ${rounds} rounds, ${tables.size} tables (${binaries.map((b) => b.split('/').pop()).join(', ')}; ${rows} rows), ${new Date().toISOString()}\n`);
console.log('| way | CPU ms per round (median of rounds; min–max) | process RSS / file-backed RSS |');
console.log('|---|---|---|');
const range = (xs: number[]) => `${median(xs).toFixed(1)} (${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)})`;
console.log(`| array mapped whole (before) | ${range(cpu.whole)} | ${rssWhole.rss.toFixed(1)} / ${rssWhole.file.toFixed(1)} MiB once mapped (${rss0.rss.toFixed(1)} / ${rss0.file.toFixed(1)} before) |`);
console.log(`| a window per table (after) | ${range(cpu.window)} | ${rssAfter.rss.toFixed(1)} / ${rssAfter.file.toFixed(1)} MiB after the rounds, whole mapping gone |`);
process.exit(0);
