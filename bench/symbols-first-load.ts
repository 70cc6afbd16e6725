/**
 * First-time symbol work: what loading one binary's symbol table costs the agent (ELF .symtab/.dynsym,
 * or a stripped Go binary's .gopclntab), CPU ms per load (median of rounds; a first round warms the JIT
 * and is not counted), and the table's bytes held. libc's table is the anchor.
 *
 *   npx tsx bench/symbols-first-load.ts [rounds=7]
 *
 * Binaries: Debian's stripped Go programs (prometheus, amtool) when installed, python3, node, libc.
 */
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { loadavg } from 'node:os';
import { loadSymbols, readBinaryInfo } from '../src/agent/symbolize/binary.js';

const rounds = Number(process.argv[2] ?? 7);
const libc = /\s(\/\S*\/libc\.so\.6)$/m.exec(readFileSync('/proc/self/maps', 'utf8'))?.[1];
const binaries = ['/usr/bin/prometheus', '/usr/bin/amtool', realpathSync('/usr/bin/python3'), process.execPath, libc].filter((p): p is string => p !== undefined && existsSync(p));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

console.log(`bench/symbols-first-load.ts, ${rounds} rounds, load ${loadavg()[0]!.toFixed(1)}, ${new Date().toISOString()}\n`);
console.log('| binary | symbols | CPU ms per load (median; min–max) | table bytes | names read from the file |');
console.log('|---|---|---|---|---|');
for (const path of binaries) {
  const bin = readBinaryInfo(path, path, '');
  const ms: number[] = [];
  let last: ReturnType<typeof loadSymbols> | undefined;
  for (let r = 0; r <= rounds; r++) {
    const c = process.cpuUsage();
    last = loadSymbols(bin, { debugDirectories: [], rootPrefix: '' });
    const d = process.cpuUsage(c);
    if (r > 0) ms.push((d.user + d.system) / 1000);
  }
  const t = last!;
  console.log(`| ${path.split('/').pop()} | ${t.length} | ${median(ms).toFixed(1)} (${Math.min(...ms).toFixed(1)}–${Math.max(...ms).toFixed(1)}) | ${(t.byteSize / 1024).toFixed(0)} KiB | ${t.namesInFile ? 'yes' : 'no'} |`);
}
