/**
 * Symbolization throughput: addresses per second, cold (fresh symbolizer: maps snapshot, ELF symbol
 * tables loaded, every result computed), warm (same addresses again into a new dictionary, answered from
 * the caches) and repeated within one dictionary (frames shared by the stacks of one interval).
 * Workload: the running node process itself (node binary, libc, libstdc++ …) and the kernel; plus the
 * cost of a /proc scan pass (startProcessScan) over this host's processes.
 * Run: npx tsx bench/agent-symbolize.ts [addresses]
 */
import { readFileSync } from 'node:fs';
import { DictionaryBuilder } from '../src/model/index.js';
import { ProcSymbolizer } from '../src/agent/symbolize/symbolizer.js';
import { parseMaps, isFileBacked } from '../src/agent/symbolize/proc-maps.js';

const N = Number(process.argv[2] ?? 200_000);
const pid = process.pid;

// Deterministic pseudo-random addresses spread over the code of every file-backed executable mapping.
// xorshift32: integer-exact, so the sequence does not collapse into a short cycle.
let seed = 2463534242;
const rand = (): number => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 2 ** 32;
};
const code = parseMaps(readFileSync(`/proc/${pid}/maps`, 'latin1')).filter(isFileBacked);
const user: bigint[] = [];
for (let i = 0; i < N; i++) {
  const m = code[Math.floor(rand() * code.length)]!;
  user.push(BigInt(m.start + Math.floor(rand() * (m.end - m.start))));
}
const ktext = readFileSync('/proc/kallsyms', 'latin1')
  .split('\n')
  .filter((l) => / [tT] /.test(l) && !l.startsWith('0000'))
  .map((l) => BigInt(`0x${l.slice(0, 16)}`));
const kernel: bigint[] = [];
for (let i = 0; i < N && ktext.length > 0; i++) kernel.push(ktext[Math.floor(rand() * ktext.length)]! + 4n);

/** Symbolizes in stacks of 16 frames, as samples come; returns addresses per second. */
function run(sym: ProcSymbolizer, addrs: bigint[], kernelSide: boolean, b = new DictionaryBuilder()): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < addrs.length; i += 16) {
    const stack = addrs.slice(i, i + 16);
    if (kernelSide) sym.symbolize(pid, [], stack, b);
    else sym.symbolize(pid, stack, [], b);
  }
  return addrs.length / (Number(process.hrtime.bigint() - t0) / 1e9);
}

const sym = new ProcSymbolizer();
const t0 = process.hrtime.bigint();
sym.observe(pid);
const observeMs = Number(process.hrtime.bigint() - t0) / 1e6;
const named = (): [number, number] => [sym.stats().symbolized, sym.stats().frames];
const userCold = run(sym, user, false);
const [userNamed, userFrames] = named();
const userWarm = run(sym, user, false);
// The same frames again into one dictionary, as stacks of one interval share frames.
const shared = new DictionaryBuilder();
run(sym, user, false, shared);
const userSameBatch = run(sym, user, false, shared);
const beforeKernel = named();
const kernelCold = run(sym, kernel, true);
const kernelNamed = named()[0] - beforeKernel[0];
const kernelWarm = run(sym, kernel, true);
// /proc scans (startProcessScan): the first pass notes every running process, later ones only new pids.
const scanner = new ProcSymbolizer();
const s0 = process.hrtime.bigint();
scanner.scanProcesses();
const firstScanMs = Number(process.hrtime.bigint() - s0) / 1e6;
const s1 = process.hrtime.bigint();
scanner.scanProcesses();
const nextScanMs = Number(process.hrtime.bigint() - s1) / 1e6;
const s = sym.stats();
const fmt = (x: number): string => `${(x / 1e6).toFixed(2)} M/s`;
console.log(`addresses: ${N} user over ${code.length} executable mappings, ${kernel.length} kernel`);
console.log(`observe (maps snapshot + ELF headers; symbol tables load when a frame first lands in a binary): ${observeMs.toFixed(1)} ms`);
console.log(`user   cold ${fmt(userCold)} (includes loading ${s.cachedSymbolTables} symbol tables, ${s.cachedSymbols} symbols)   warm ${fmt(userWarm)}   repeated within one dictionary ${fmt(userSameBatch)}`);
console.log(`kernel cold ${fmt(kernelCold)} (includes loading ${s.kernelSymbols} kallsyms symbols)   warm ${fmt(kernelWarm)}`);
console.log(`process scan: first pass ${firstScanMs.toFixed(1)} ms (${scanner.stats().cachedProcesses} processes with code), next pass ${nextScanMs.toFixed(2)} ms`);
console.log(`named: user ${((userNamed / userFrames) * 100).toFixed(1)} %, kernel ${((kernelNamed / kernel.length) * 100).toFixed(1)} %; cached results ${s.cachedResults}, rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`);
