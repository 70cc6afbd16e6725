import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DictionaryBuilder, frameNames } from '../../../src/model/index.js';
import { loadSymbols, readBinaryInfo } from '../../../src/agent/symbolize/binary.js';
import { withElf } from '../../../src/agent/symbolize/elf.js';
import { goFunctionSymbolsInto } from '../../../src/agent/symbolize/go-pclntab.js';
import { SymbolTable, SymbolTableBuilder } from '../../../src/agent/symbolize/symbol-table.js';
import { ProcSymbolizer } from '../../../src/agent/symbolize/symbolizer.js';

/** A stripped Go program from a Debian package (no .symtab: names can only come from .gopclntab). */
function strippedGoBinary(): string {
  const found = ['/usr/bin/amtool', '/usr/bin/prometheus-alertmanager'].find((f) => existsSync(f));
  if (!found) throw new Error('Go symbolization test needs a stripped Go binary: /usr/bin/amtool (Debian package prometheus-alertmanager)');
  return found;
}

describe('stripped Go binaries', () => {
  it('names Go functions from .gopclntab, as the Go runtime’s own traceback names them', async () => {
    const bin = strippedGoBinary();
    expect(withElf(bin, (elf) => elf.hasSymtab())).toBe(false);
    // amtool blocks opening its config, a FIFO nobody writes; SIGQUIT with GOTRACEBACK=system makes the
    // Go runtime print every goroutine's frames with their pc — an oracle written by Go itself.
    const dir = mkdtempSync(path.join(tmpdir(), 'kiln-go-'));
    const fifo = path.join(dir, 'config.fifo');
    execFileSync('mkfifo', [fifo]);
    const child = spawn(bin, ['check-config', fifo], { env: { ...process.env, GOTRACEBACK: 'system' }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    await new Promise((r) => child.once('spawn', r));
    await new Promise((r) => setTimeout(r, 500)); // let it reach the blocking read
    const sym = new ProcSymbolizer();
    sym.observe(child.pid!);
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGQUIT');
    await exited;
    rmSync(dir, { recursive: true, force: true });

    // "runtime.(*scavengerState).park(0x…)\n\truntime/mgcscavenge.go:425 +0x53 fp=… sp=… pc=0x4293f3"
    const frames = [...stderr.matchAll(/^(\S+)\([^()\n]*\)\n\t[^\n]* pc=(0x[0-9a-f]+)$/gm)].map((m) => ({ name: m[1]!, pc: BigInt(m[2]!) }));
    expect(frames.length).toBeGreaterThan(5);
    const b = new DictionaryBuilder();
    const ours = frames.map((f) => frameNames(b.dict, sym.symbolize(child.pid!, [f.pc], [], b)[0]!)[0]);
    expect(ours).toEqual(frames.map((f) => f.name));
    expect(ours).toContain('runtime.gopark');
  });

  it('keeps a stripped Go binary’s names in the file (read back on lookup, not copied), the same names a copy holds', () => {
    const bin = strippedGoBinary();
    const table = loadSymbols(readBinaryInfo(bin, bin, ''), { debugDirectories: [], rootPrefix: '' });
    expect(table.namesInFile, 'names of .gopclntab read back from the binary').toBe(true);
    expect(table.length).toBeGreaterThan(1000);
    // The same table with its names copied into memory: every function named alike at its start.
    const copied = withElf(bin, (elf) => {
      const b = new SymbolTableBuilder();
      goFunctionSymbolsInto(elf, b, 0, false);
      return new SymbolTable(b);
    });
    expect(copied.namesInFile).toBe(false);
    // Addresses across .text, a few thousand: where the Go table names one, the loaded table (which
    // adds the few cgo symbols of .dynsym) names it alike.
    const text = withElf(bin, (elf) => elf.section('.text'))!;
    let named = 0;
    for (let at = text.addr; at < text.addr + text.size; at += 4099) {
      const name = copied.lookup(at);
      if (name === undefined) continue;
      expect(table.lookup(at), `0x${at.toString(16)}`).toBe(name);
      named++;
    }
    expect(named, 'addresses in .text named').toBeGreaterThan(((text.size / 4099) * 9) / 10);
  });
});
