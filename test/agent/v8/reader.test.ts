import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readV8Binary, type V8Constants } from '../../../src/agent/v8/constants.js';
import { lineAt, newlines, newlinesIn } from '../../../src/agent/v8/heap.js';
import { V8FrameReader } from '../../../src/agent/v8/reader.js';

const FIXTURE = fileURLToPath(new URL('./fixture-functions.js', import.meta.url));

/** The 1-based line of the fixture holding `text`. */
function lineOf(text: string): number {
  const i = readFileSync(FIXTURE, 'utf8').split('\n').findIndex((l) => l.includes(text));
  if (i < 0) throw new Error(`no line with "${text}"`);
  return i + 1;
}

interface Printed {
  readonly fn: number;
  readonly sfi: number;
  readonly name: string;
}

let child: ChildProcess | undefined;
let dir: string | undefined;
let printed: Printed[] = [];
let constants: V8Constants;

// A real node process prints its functions' addresses (%DebugPrint, V8's own view of them); the reader
// then names them from the process's memory, as the agent does for the walker's frames.
beforeAll(async () => {
  const bin = readV8Binary(process.execPath);
  if (!bin) throw new Error(`${process.execPath} lacks V8's post-mortem constants (v8dbg_* symbols)`);
  constants = bin.constants;
  dir = mkdtempSync(path.join(tmpdir(), 'kiln-v8-'));
  const out = path.join(dir, 'out.txt');
  // A file, unbuffered (stdbuf): %DebugPrint writes through C stdio, which a live process would hold back.
  child = spawn('stdbuf', ['-o0', process.execPath, '--allow-natives-syntax', FIXTURE], { stdio: ['pipe', openSync(out, 'w'), 'inherit'] });
  const deadline = Date.now() + 15_000;
  for (;;) {
    const text = readFileSync(out, 'utf8');
    printed = [...text.matchAll(/^DebugPrint: (0x[0-9a-f]+): \[Function\][^]*?- shared_info: (0x[0-9a-f]+) <SharedFunctionInfo ?([^>]*)>/gm)].map((m) => ({
      fn: Number(m[1]),
      sfi: Number(m[2]),
      name: m[3]!,
    }));
    if (printed.length >= 6) break;
    if (Date.now() > deadline) throw new Error(`the fixture printed ${printed.length} of 6 functions:\n${text.slice(0, 2000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}, 30_000);

afterAll(() => {
  child?.stdin?.end();
  child?.kill();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('V8FrameReader on a live node process', () => {
  it('names functions of every kind with their file and first line', () => {
    const reader = new V8FrameReader({ of: () => ({ constants }) });
    const url = pathToFileURL(FIXTURE).href;
    const got = printed.map((p) => ({ printed: p.name, ...reader.frame(child!.pid!, p.sfi) }));
    expect(got).toEqual([
      { printed: 'named', name: 'named', file: url, line: lineOf('function named()') },
      { printed: 'arrow', name: 'arrow', file: url, line: lineOf('const arrow') },
      { printed: 'method', name: 'method', file: url, line: lineOf('const obj') },
      { printed: 'm', name: 'm', file: url, line: lineOf('  m() {') },
      // More context locals than V8 inlines (a hash table of names instead). A Function() body has no
      // file, and V8 wraps it in `(function anonymous(\n) {\n…`: its own source's line 3.
      { printed: 'manyLocals', name: 'manyLocals', file: '', line: 3 },
      { printed: '', name: '(anonymous)', file: url, line: lineOf('  return function () {') },
    ]);
    expect(reader.stats()).toMatchObject({ v8Named: 6, v8NoScript: 0, v8Reads: 6 });
  });

  it('re-reads a name once per interval, and gives none for an object that is not a function', () => {
    const reader = new V8FrameReader({ of: () => ({ constants }) });
    const pid = child!.pid!;
    const first = printed[0]!;
    expect(reader.frame(pid, first.sfi)?.name).toBe('named');
    expect(reader.frame(pid, first.sfi)?.name).toBe('named');
    expect(reader.stats()).toMatchObject({ v8Reads: 1, v8Revalidations: 0 });
    reader.nextInterval();
    expect(reader.frame(pid, first.sfi)?.name).toBe('named');
    expect(reader.stats()).toMatchObject({ v8Reads: 1, v8Revalidations: 1 });
    // The JSFunction itself, or an address inside the object: no SharedFunctionInfo there.
    expect(reader.frame(pid, first.fn)).toBeUndefined();
    expect(reader.frame(pid, first.sfi + 8)).toBeUndefined();
    expect(reader.stats().v8NotFunction).toBe(2);
    // A process the reader does not know as V8, or one gone: nothing read.
    expect(new V8FrameReader({ of: () => undefined }).frame(pid, first.sfi)).toBeUndefined();
    expect(new V8FrameReader({ of: () => ({ constants }) }, '/nonexistent').frame(pid, first.sfi)).toBeUndefined();
  });

  it('re-checks each function against the head it kept, though every fresh read reads into the same blocks', () => {
    const reader = new V8FrameReader({ of: () => ({ constants }) });
    const pid = child!.pid!;
    const first = printed.map((p) => reader.frame(pid, p.sfi));
    reader.nextInterval();
    expect(printed.map((p) => reader.frame(pid, p.sfi))).toEqual(first);
    expect(reader.stats()).toMatchObject({ v8Reads: printed.length, v8Revalidations: printed.length, v8Changed: 0 });
  });

  it('tries to open the memory of a process gone within an interval once in that interval', () => {
    const pid = child!.pid!;
    const root = mkdtempSync(path.join(tmpdir(), 'kiln-v8-proc-'));
    try {
      mkdirSync(path.join(root, String(pid)));
      const reader = new V8FrameReader({ of: () => ({ constants }) }, root);
      // No memory file: as for a process that exited before its frames were read.
      expect(reader.frame(pid, printed[0]!.sfi)).toBeUndefined();
      symlinkSync(`/proc/${pid}/mem`, path.join(root, String(pid), 'mem'));
      // Not tried again in this interval, though the file is there now …
      expect(reader.frame(pid, printed[1]!.sfi)).toBeUndefined();
      // … and read again from the next one.
      reader.nextInterval();
      expect(reader.frame(pid, printed[1]!.sfi)?.name).toBe(printed[1]!.name);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('line of a source position', () => {
  it('counts newlines before the position', () => {
    const ends = newlines('a\nbb\n\nccc');
    expect([...ends]).toEqual([1, 4, 5]);
    expect([0, 1, 2, 4, 5, 6, 9].map((p) => lineAt(ends, p))).toEqual([1, 1, 2, 2, 3, 4, 4]);
  });

  it('counts them in the bytes of a source as V8 stores it, one or two bytes a character', () => {
    // A UTF-16 character whose low byte is 0A (U+010A) and one whose high byte is (U+0A41) are no newline.
    const text = 'a\nbb\u010a\n\nc\u0a41c';
    expect([...newlinesIn(Buffer.from(text, 'utf16le'), 2)]).toEqual([...newlines(text)]);
    expect([...newlinesIn(Buffer.from(text, 'utf16le'), 2)]).toEqual([1, 5, 6]);
    expect([...newlinesIn(Buffer.from('a\nbb\n\nccc', 'latin1'), 1)]).toEqual([1, 4, 5]);
  });
});
