import path from 'node:path';
import { LruCache } from '../lru.js';
import { withElf } from '../symbolize/elf.js';
import { PY_PART } from '../unwind/proc-info.js';
import { PROC_PYTHON, readMappedBinary, type ExtensionPart, type MappedBinary, type ProcessExtension } from '../unwind/process-tables.js';
import { NONE, PY_OFFSETS, type PyOffsets } from './offsets.js';

/**
 * Recognises CPython processes as the agent loads them: a mapped binary named like the interpreter
 * (python3.11, libpython3.11.so.1.0) that defines `_PyRuntime`. For each it gives the CPython part of the
 * process's BPF `procs` entry (bpf/unwind.h struct py_proc, written by process-tables.ts): where
 * _PyRuntime and the eval loop are in that process, and the version's offsets, so the walker can read
 * the thread's frames. Versions without offsets (older than
 * 3.8, newer than 3.13) are left to native unwinding.
 */

/** Interpreter binaries by file name: the executable (python3.11) or the shared library. */
const PYTHON_BINARY = /^(?:lib)?python(\d)\.(\d+)[a-z]*(?:\.so(?:\.[\d.]+)?)?$/;

/** Frame layouts by version (bpf/unwind.h PY_*). */
const KIND: Record<string, number> = { '3.8': 0, '3.9': 0, '3.10': 0, '3.11': 1, '3.12': 2, '3.13': 3 };
/** FRAME_OWNED_BY_CSTACK (3.12+): the shim frame an eval-loop activation starts with. */
const OWNED_BY_CSTACK = 3;

interface PythonBinary {
  readonly version: string;
  readonly runtime: number;
  readonly evalStart: number;
  readonly evalEnd: number;
}

export interface PythonProcess {
  readonly version: string;
  readonly offsets: PyOffsets;
}

export class PythonProcesses implements ProcessExtension {
  private readonly byPid = new LruCache<number, PythonProcess>(4096);
  private readonly binaries = new LruCache<string, PythonBinary | null>(256);
  unsupported = 0;

  constructor(private readonly procRoot = '/proc') {}

  attach(pid: number, binaries: readonly MappedBinary[]): ExtensionPart | undefined {
    for (const mb of binaries) {
      const m = PYTHON_BINARY.exec(path.basename(mb.binary.path));
      if (!m) continue;
      const bin = this.binaryOf(pid, mb, `${m[1]}.${m[2]}`);
      if (!bin) continue;
      const offsets = PY_OFFSETS[bin.version];
      if (!offsets) {
        this.unsupported++;
        return undefined;
      }
      const bytes = pyProcValue(bin.runtime + mb.bias, bin.evalStart + mb.bias, bin.evalEnd + mb.bias, mb.mapping, bin.version, offsets);
      // Kept after detach (bounded): the samples of a process that has just exited still name its frames.
      this.byPid.set(pid, { version: bin.version, offsets });
      return { flag: PROC_PYTHON, offset: PY_PART.offset, bytes };
    }
    return undefined;
  }

  /** Nothing to remove: the part went with the process's entry, and its interpreter is kept (above). */
  detach(): void {}

  /** The interpreter of a process the walker read Python frames from. */
  of(pid: number): PythonProcess | undefined {
    return this.byPid.get(pid);
  }

  /** _PyRuntime and the eval loop in the binary's own addresses; null when it is not an interpreter. */
  private binaryOf(pid: number, mb: MappedBinary, nameVersion: string): PythonBinary | null {
    const cached = this.binaries.get(mb.binary.symbolsKey);
    if (cached !== undefined) return cached;
    const read = readMappedBinary(
      pid,
      mb,
      (file) =>
        withElf(file, (elf): PythonBinary | null => {
          const syms = elf.namedSymbols(new Set(['_PyRuntime', '_PyEval_EvalFrameDefault', 'Py_Version']));
          const runtime = syms.get('_PyRuntime');
          const evalLoop = syms.get('_PyEval_EvalFrameDefault');
          if (!runtime || !evalLoop) return null;
          // 3.11+ state their version in Py_Version (0x030B02F0 for 3.11.2); the file name says it otherwise.
          const v = syms.get('Py_Version');
          const bytes = v ? elf.readAtVaddr(v.value, 4) : undefined;
          const hex = bytes?.readUInt32LE(0);
          const version = hex ? `${hex >>> 24}.${(hex >>> 16) & 0xff}` : nameVersion;
          return { version, runtime: runtime.value, evalStart: evalLoop.value, evalEnd: evalLoop.value + Math.max(evalLoop.size, 1) };
        }),
      this.procRoot,
    );
    if (!read) return null;
    this.binaries.set(mb.binary.symbolsKey, read.value);
    return read.value;
  }
}

/**
 * struct py_proc: _PyRuntime, the eval loop, the interpreter's code mapping, then struct py_offsets
 * (twelve u16, kind, owner_cstack, pad).
 */
function pyProcValue(runtime: number, evalStart: number, evalEnd: number, interp: { start: number; end: number }, version: string, o: PyOffsets): Buffer {
  const b = Buffer.alloc(PY_PART.bytes);
  b.writeBigUInt64LE(BigInt(runtime), 0);
  b.writeBigUInt64LE(BigInt(evalStart), 8);
  b.writeBigUInt64LE(BigInt(evalEnd), 16);
  b.writeBigUInt64LE(BigInt(interp.start), 24);
  b.writeBigUInt64LE(BigInt(interp.end), 32);
  const fields = [o.interpHead, o.interpThreads, o.tstateNext, o.tstateThreadId, o.tstateFrame, o.cframeFrame, o.frameCode, o.framePrevious, o.frameInstr, o.frameOwner, o.frameIsEntry, o.codeAdaptive];
  fields.forEach((f, i) => b.writeUInt16LE(f === NONE ? NONE : f, 40 + i * 2));
  b.writeUInt8(KIND[version] ?? 0, 64);
  b.writeUInt8(OWNED_BY_CSTACK, 65);
  return b;
}
