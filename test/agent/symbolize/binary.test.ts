import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSymbols, readBinaryInfo } from '../../../src/agent/symbolize/binary.js';
import { buildProgram } from './native-program.js';

let dir: string;
let binary: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'kiln-binary-'));
  binary = buildProgram(dir);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** nm's address of each defined text symbol. */
function nmFunctions(file: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of execFileSync('nm', ['--defined-only', file], { encoding: 'utf8' }).matchAll(/^([0-9a-f]+) [tT] (\S+)$/gm)) out.set(m[2]!, Number.parseInt(m[1]!, 16));
  return out;
}

const noDebug = { debugDirectories: [] as string[], rootPrefix: '' };

describe('a binary’s symbol table', () => {
  it('reads the names of a binary the agent can open itself from the file, and they are nm’s', () => {
    const info = readBinaryInfo(binary, binary, 'test');
    const t = loadSymbols(info, noDebug);
    expect(t.namesInFile).toBe(true);
    const nm = nmFunctions(binary);
    for (const fn of ['main', 'burn_a', 'burn_b']) expect(t.lookup(nm.get(fn)! + 1)).toBe(fn);
    // Addresses and a file offset per symbol only: no name bytes held.
    expect(t.byteSize).toBe(t.length * 12);
  });

  it('keeps a copy of the names when its path does not lead the agent to the same file (another mount namespace)', () => {
    // The process sees the binary at a path that, from the agent, holds another file (here: none).
    const elsewhere = path.join(dir, 'container-root');
    mkdirSync(elsewhere);
    const inContainer = path.join(elsewhere, 'burner');
    copyFileSync(binary, inContainer);
    const t = loadSymbols(readBinaryInfo(inContainer, path.join(dir, 'no-such-dir', 'burner'), 'test'), noDebug);
    expect(t.namesInFile).toBe(false);
    expect(t.lookup(nmFunctions(binary).get('burn_b')! + 1)).toBe('burn_b');
  });

  it('keeps the names it read after the binary is deleted (a deploy replaced it)', () => {
    const doomed = path.join(dir, 'doomed');
    copyFileSync(binary, doomed);
    const t = loadSymbols(readBinaryInfo(doomed, doomed, 'test'), noDebug);
    expect(t.namesInFile).toBe(true);
    rmSync(doomed);
    copyFileSync(path.join(dir, 'burner.c'), doomed); // a different file at the same path
    expect(t.lookup(nmFunctions(binary).get('burn_a')! + 1)).toBe('burn_a');
  });

  it('keeps the binary’s own names when its .gnu_debuglink section cannot be read (a damaged file)', () => {
    const damaged = path.join(dir, 'damaged-link');
    const crcFile = path.join(dir, 'burner.debug');
    writeFileSync(crcFile, 'not a debug file');
    execFileSync('objcopy', [`--add-gnu-debuglink=${crcFile}`, binary, damaged]);
    // Point the link's section past the end of the file: reading it fails.
    const bytes = readFileSync(damaged);
    const index = Number(/\[\s*(\d+)\]\s+\.gnu_debuglink\s/.exec(execFileSync('readelf', ['-S', '-W', damaged], { encoding: 'utf8' }))![1]);
    const header = Number(bytes.readBigUInt64LE(0x28)) + index * bytes.readUInt16LE(0x3a);
    bytes.writeBigUInt64LE(BigInt(bytes.length + (1 << 20)), header + 0x18);
    writeFileSync(damaged, bytes);
    const t = loadSymbols(readBinaryInfo(damaged, damaged, 'test'), noDebug);
    const nm = nmFunctions(binary);
    for (const fn of ['main', 'burn_a', 'burn_b']) expect(t.lookup(nm.get(fn)! + 1)).toBe(fn);
  });
});
