import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ElfFormatError, withElf } from '../../../src/agent/symbolize/elf.js';
import { buildProgram } from './native-program.js';

let dir: string;
let original: Buffer;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'kiln-elf-'));
  original = readFileSync(buildProgram(dir));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Everything the symbolizer asks of a binary. */
function readAll(file: string): void {
  withElf(file, (elf) => {
    elf.buildId();
    elf.debugLink();
    elf.functionSymbols();
    elf.fileOffsetToVaddr(0x1000);
  });
}

describe('ELF reader on damaged files', () => {
  it('reads a file cut short or with corrupted header bytes, or says it cannot — never anything else', () => {
    // Seeded, so a failure reproduces; headers (first 4 KiB) and the section table at the end are
    // where a corrupt byte changes what the reader is asked to do.
    let seed = 0x9e3779b9;
    const rand = (n: number): number => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    const file = path.join(dir, 'damaged');
    const outcomes = { read: 0, rejected: 0 };
    for (let i = 0; i < 300; i++) {
      let bytes = Buffer.from(original);
      if (i % 3 === 0) bytes = bytes.subarray(0, rand(bytes.length));
      else {
        const tailStart = Math.max(0, bytes.length - 4096);
        for (let k = 0; k < 1 + rand(8); k++) {
          const at = rand(2) === 0 ? rand(Math.min(4096, bytes.length)) : tailStart + rand(bytes.length - tailStart);
          bytes[at] = rand(256);
        }
      }
      writeFileSync(file, bytes);
      try {
        readAll(file);
        outcomes.read++;
      } catch (e) {
        if (!(e instanceof ElfFormatError)) throw new Error(`variant ${i}: ${(e as Error).name}: ${(e as Error).message}`);
        outcomes.rejected++;
      }
    }
    // Both outcomes happen: the test does exercise the rejection paths.
    expect(outcomes.read).toBeGreaterThan(0);
    expect(outcomes.rejected).toBeGreaterThan(0);
  });

  it('rejects an empty file and a 32-bit or big-endian header by name', () => {
    const file = path.join(dir, 'odd');
    writeFileSync(file, Buffer.alloc(0));
    expect(() => readAll(file)).toThrow(ElfFormatError);
    const b32 = Buffer.from(original.subarray(0, 64));
    b32[4] = 1;
    writeFileSync(file, b32);
    expect(() => readAll(file)).toThrow(/not 64-bit/);
    const be = Buffer.from(original);
    be[5] = 2;
    writeFileSync(file, be);
    expect(() => readAll(file)).toThrow(/not little-endian/);
    copyFileSync(path.join(dir, 'burner'), file);
    expect(() => readAll(file)).not.toThrow();
  });
});
