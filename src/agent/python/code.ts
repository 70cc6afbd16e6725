import { closeSync, openSync, readSync } from 'node:fs';
import { LruCache } from '../lru.js';
import { lineOf } from './linetable.js';
import type { PyOffsets } from './offsets.js';
import type { PythonProcess } from './process.js';

/**
 * Names CPython frames: the BPF walker records a frame as (code object address, instruction); the
 * agent reads that code object from the process's memory (/proc/PID/mem) — qualified name, file name,
 * first line and line table — once per (process, code object), and computes the line of each
 * instruction with the interpreter's own line-table rules. A process that exits before its frames are
 * read keeps the names read while it lived; frames never read keep their code object's address.
 */

/**
 * Bit 63 marks a frame an interpreter's objects name, in a user stack: a CPython frame (bpf/kiln.h
 * PY_FRAME_TAG) or a V8 one (V8_FRAME_TAG, told apart by v8/frames.ts isV8Frame).
 */
const INTERPRETER_FRAME_BIT = 1n << 63n;

export function isInterpreterFrame(addr: bigint): boolean {
  // A comparison, not a shift: asked for every user frame, and a shift makes a BigInt each time.
  return addr >= INTERPRETER_FRAME_BIT;
}

/** The code object address (47 bits) and instruction (16 bits) of a CPython frame. */
export function pythonFrameParts(addr: bigint): { code: number; instr: number } {
  return { code: Number(addr & 0x7fff_ffff_ffffn), instr: Number((addr >> 47n) & 0xffffn) };
}

export interface PythonFrame {
  readonly name: string;
  readonly file: string;
  readonly line: number;
}

interface CodeObject {
  readonly name: string;
  readonly file: string;
  readonly firstLine: number;
  readonly table: Buffer;
  readonly version: string;
}

const MAX_STRING = 4096;
const MAX_TABLE = 1 << 20;

export class PythonCodeReader {
  private readonly codes = new LruCache<string, CodeObject | null>(20_000, (c) => (c ? 1 + (c.table.length >> 10) : 1));
  reads = 0;
  readErrors = 0;

  constructor(
    private readonly processes: { of(pid: number): PythonProcess | undefined },
    private readonly procRoot = '/proc',
  ) {}

  frame(pid: number, code: number, instr: number): PythonFrame | undefined {
    const key = `${pid}:${code}`;
    let c = this.codes.get(key);
    if (c === undefined) {
      const py = this.processes.of(pid);
      c = py ? this.read(pid, code, py) : null;
      // A miss on a live process may be a code object not yet complete: only a found one is kept for good.
      if (c || !py) this.codes.set(key, c);
    }
    if (!c) return undefined;
    return { name: c.name, file: c.file, line: lineOf(c.version, c.table, c.firstLine, instr) };
  }

  private read(pid: number, code: number, py: PythonProcess): CodeObject | null {
    let fd: number;
    try {
      fd = openSync(`${this.procRoot}/${pid}/mem`, 'r');
    } catch {
      this.readErrors++;
      return null;
    }
    try {
      this.reads++;
      const o = py.offsets;
      const head = readAt(fd, code, 256);
      if (!head) return null;
      const ptr = (off: number) => Number(head.readBigUInt64LE(off));
      const name = readString(fd, ptr(o.codeQualname), o);
      const file = readString(fd, ptr(o.codeFilename), o);
      const table = readBytes(fd, ptr(o.codeLinetable), o);
      if (name === undefined || file === undefined || !table) {
        this.readErrors++;
        return null;
      }
      return { name, file, firstLine: head.readInt32LE(o.codeFirstLineno), table, version: py.version };
    } finally {
      closeSync(fd);
    }
  }
}

function readAt(fd: number, addr: number, length: number): Buffer | undefined {
  if (addr <= 0 || !Number.isSafeInteger(addr)) return undefined;
  const b = Buffer.alloc(length);
  try {
    return readSync(fd, b, 0, length, addr) === length ? b : undefined;
  } catch {
    return undefined;
  }
}

/** A compact str (every identifier and file name is one): ASCII, Latin-1, UCS-2 or UCS-4 characters. */
function readString(fd: number, addr: number, o: PyOffsets): string | undefined {
  const head = readAt(fd, addr, o.compactData);
  if (!head) return undefined;
  const length = Number(head.readBigInt64LE(o.unicodeLength));
  const state = head.readUInt32LE(o.asciiState);
  const kind = (state >> 2) & 7;
  const compact = (state >> 5) & 1;
  const ascii = (state >> 6) & 1;
  if (!compact || length < 0 || length > MAX_STRING || ![1, 2, 4].includes(kind)) return undefined;
  const data = readAt(fd, addr + (ascii ? o.asciiData : o.compactData), Math.max(1, length * kind));
  if (!data) return undefined;
  if (kind === 1) return data.toString('latin1', 0, length);
  if (kind === 2) return data.toString('utf16le', 0, length * 2);
  let s = '';
  for (let i = 0; i < length; i++) s += String.fromCodePoint(data.readUInt32LE(i * 4));
  return s;
}

function readBytes(fd: number, addr: number, o: PyOffsets): Buffer | undefined {
  const head = readAt(fd, addr, o.bytesData);
  if (!head) return undefined;
  const size = Number(head.readBigInt64LE(o.bytesSize));
  if (size < 0 || size > MAX_TABLE) return undefined;
  return size === 0 ? Buffer.alloc(0) : readAt(fd, addr + o.bytesData, size);
}
