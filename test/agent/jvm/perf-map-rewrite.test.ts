import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PerfMap } from '../../../src/agent/symbolize/perf-map.js';

const dir = mkdtempSync(path.join(tmpdir(), 'kiln-perfmap-rewrite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** HotSpot's Compiler.perfmap rewrites the whole file (sorted by code heap), it does not append. */
describe('PerfMap read again after a JVM rewrote it', () => {
  it('starts over when the file was rewritten longer, instead of reading its tail as new lines', () => {
    const file = path.join(dir, 'perf-1.map');
    writeFileSync(file, '0x1000 0x100 void A.first()\n0x3000 0x100 Interpreter\n');
    const m = new PerfMap(file);
    m.refresh();
    expect(m.lookup(0x1010)).toBe('void A.first()');
    // Code at 0x1000 was freed and a new method compiled there; a method compiled lower sorts first.
    writeFileSync(file, '0x0800 0x100 long Burner.burn(int)\n0x1000 0x100 void B.second()\n0x3000 0x100 Interpreter\n');
    m.refresh();
    expect(m.lookup(0x0810)).toBe('long Burner.burn(int)');
    expect(m.lookup(0x1010)).toBe('void B.second()');
    expect(m.lookup(0x3010)).toBe('Interpreter');
    expect(m.size).toBe(3);
  });

  it('keeps reading only the tail of a file that is appended to', () => {
    const file = path.join(dir, 'perf-2.map');
    writeFileSync(file, '1000 10 JS:a\n');
    const m = new PerfMap(file);
    m.refresh();
    writeFileSync(file, '1000 10 JS:a\n2000 10 JS:b\n');
    m.refresh();
    expect(m.lookup(0x1001)).toBe('JS:a');
    expect(m.lookup(0x2001)).toBe('JS:b');
    expect(m.size).toBe(2);
  });
});
