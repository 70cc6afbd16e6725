import type { ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readV8Binary, type V8Constants } from '../../../src/agent/v8/constants.js';
import { V8FrameReader } from '../../../src/agent/v8/reader.js';
import { startScript } from './live-script.js';

let child: ChildProcess | undefined;
const dir = mkdtempSync(path.join(tmpdir(), 'kiln-v8-none-'));
let script = '';
let constants: V8Constants;
/** The fixture's function (JSFunction, tagged), its SharedFunctionInfo (tagged) and an ArrayBuffer's memory. */
let fn = 0;
let sfi = 0;
let store = 0;
const STORE_BYTES = 65536;

// A live node process with one named function and an ArrayBuffer whose memory (outside V8's heap) the test
// writes through /proc/PID/mem: a copy of an object's bytes there is, to the reader, that object at a new
// address — as when a GC moves one. So one address can hold no function, then a function, then none again.
beforeAll(async () => {
  const bin = readV8Binary(process.execPath);
  if (!bin) throw new Error(`${process.execPath} lacks V8's post-mortem constants (v8dbg_* symbols)`);
  constants = bin.constants;
  const lines = ['function named() { return 1; }', 'named();', `const buf = new ArrayBuffer(${STORE_BYTES});`, '%DebugPrint(named);', '%DebugPrint(buf);'];
  lines.push("process.stdout.write('@@ ready\\n');", "process.stdin.on('data', () => {}); process.stdin.on('end', () => process.exit(0));");
  const started = await startScript(dir, 'none.js', lines);
  child = started.child;
  script = started.script;
  const text = started.text;
  fn = Number(/DebugPrint: (0x[0-9a-f]+): \[Function\]/.exec(text)![1]);
  sfi = Number(/- shared_info: (0x[0-9a-f]+)/.exec(text)![1]);
  store = Number(/- backing_store: (0x[0-9a-f]+)/.exec(text)![1]);
}, 30_000);

afterAll(() => {
  child?.stdin?.end();
  child?.kill();
  rmSync(dir, { recursive: true, force: true });
});

/** Copies `bytes` of the child's memory from `from` to `to` (addresses, not tagged). */
function copyInChild(from: number, to: number, bytes = 256): void {
  const fd = openSync(`/proc/${child!.pid!}/mem`, 'r+');
  try {
    const b = Buffer.alloc(bytes);
    expect(readSync(fd, b, 0, bytes, from)).toBe(bytes);
    expect(writeSync(fd, b, 0, bytes, to)).toBe(bytes);
  } finally {
    closeSync(fd);
  }
}

/** A reader whose reads of the process's memory are counted (its one way in, readMem). */
function countingReader(): { reader: V8FrameReader; reads: { count: number; bytes: number } } {
  const reader = new V8FrameReader({ of: () => ({ constants }) });
  const r = reader as unknown as { readMem: (pid: number, addr: number, length: number, into?: Buffer) => Buffer | undefined };
  const readMem = r.readMem.bind(reader);
  const reads = { count: 0, bytes: 0 };
  r.readMem = (p, addr, length, into) => {
    reads.count++;
    reads.bytes += length;
    return readMem(p, addr, length, into);
  };
  return { reader, reads };
}

describe('V8FrameReader and addresses that hold no function', () => {
  it('re-checks a remembered address with one word read, and names the function V8 later puts there', () => {
    const { reader, reads } = countingReader();
    const pid = child!.pid!;
    const at = store + 4096; // inside the ArrayBuffer, 8-aligned
    const tagged = at + constants.heapObjectTag;
    // A JSFunction's bytes there: an object, but no SharedFunctionInfo.
    copyInChild(fn - constants.heapObjectTag, at);
    expect(reader.frame(pid, tagged)).toBeUndefined();
    expect(reader.stats()).toMatchObject({ v8Reads: 1, v8NotFunction: 1, v8NotFunctions: 1 });
    // Asked again in the same interval: nothing read.
    const first = reads.count;
    expect(reader.frame(pid, tagged)).toBeUndefined();
    expect(reads.count).toBe(first);
    // The next interval: one read of its map word, no fresh read.
    reader.nextInterval();
    const before = { ...reads };
    expect(reader.frame(pid, tagged)).toBeUndefined();
    expect({ count: reads.count - before.count, bytes: reads.bytes - before.bytes }).toEqual({ count: 1, bytes: 8 });
    expect(reader.stats()).toMatchObject({ v8Reads: 1, v8NotFunctionChecks: 1, v8Changed: 0 });

    // A SharedFunctionInfo moved there (its bytes): read afresh at the next interval's check, and named.
    copyInChild(sfi - constants.heapObjectTag, at);
    reader.nextInterval();
    expect(reader.frame(pid, tagged)).toEqual({ name: 'named', file: script, line: 1 });
    expect(reader.stats()).toMatchObject({ v8Reads: 2, v8Changed: 1, v8NotFunctions: 0, v8Functions: 1 });

    // And gone again: no name, remembered as none once more.
    copyInChild(fn - constants.heapObjectTag, at);
    reader.nextInterval();
    expect(reader.frame(pid, tagged)).toBeUndefined();
    expect(reader.stats()).toMatchObject({ v8Reads: 3, v8Changed: 2, v8NotFunctions: 1, v8Functions: 0 });

    // A word that is no object's address (zeros: a Smi) is remembered the same way; another map there is read afresh.
    const zeros = tagged + 1024;
    expect(reader.frame(pid, zeros)).toBeUndefined();
    reader.nextInterval();
    expect(reader.frame(pid, zeros)).toBeUndefined();
    expect(reader.stats()).toMatchObject({ v8Reads: 4, v8NotFunctions: 2 });
    copyInChild(fn - constants.heapObjectTag, zeros - constants.heapObjectTag);
    reader.nextInterval();
    expect(reader.frame(pid, zeros)).toBeUndefined();
    expect(reader.stats()).toMatchObject({ v8Reads: 5, v8NotFunctions: 2 });

    // The process forgotten (exited or exec'd): its addresses with it.
    reader.forget(pid);
    expect(reader.stats()).toMatchObject({ v8NotFunctions: 0 });
  });

  it('keeps a bounded number of them', () => {
    const { reader } = countingReader();
    const pid = child!.pid!;
    // Every word of the ArrayBuffer: 8 192 addresses, nearly all holding no function (the first test copied objects there).
    for (let at = store; at < store + STORE_BYTES; at += 8) reader.frame(pid, at + constants.heapObjectTag);
    expect(reader.stats().v8NotFunction).toBeGreaterThan(4096);
    const kept = reader.stats().v8NotFunctions!;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThanOrEqual(4096);
  });
});
