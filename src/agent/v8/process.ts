import path from 'node:path';
import { LruCache } from '../lru.js';
import { V8_PART } from '../unwind/proc-info.js';
import { readMappedBinary, type ExtensionPart, type MappedBinary, type ProcessExtension } from '../unwind/process-tables.js';
import { readV8Binary, type V8Binary, type V8Constants } from './constants.js';

/** Process flag in `procs` (bpf/kiln.h PROC_V8). */
export const PROC_V8 = 4;
/** Binaries that embed V8 with its post-mortem constants, by file name: node itself, or libnode. */
const V8_BINARY = /^(?:node|nodejs|libnode\.so(?:\.[\d.]+)?)$/;

export interface V8Process {
  readonly constants: V8Constants;
}

/**
 * Recognises node processes as the agent loads them: a mapped `node` (or `libnode.so`) whose ELF file
 * holds V8's `v8dbg_*` post-mortem constants. For each it gives the V8 part of the process's BPF `procs`
 * entry (bpf/unwind.h struct v8_proc, written by process-tables.ts): where the embedded builtins are in
 * that process and the frame slot of the JSFunction, so the walker records each JavaScript frame's
 * SharedFunctionInfo; v8/reader.ts names them.
 */
export class V8Processes implements ProcessExtension {
  private readonly byPid = new LruCache<number, V8Process>(4096);
  /** Per binary (build id or file identity): reading the constants scans its symbol table (≈ 0.5 s for node 20). */
  private readonly binaries = new LruCache<string, V8Binary | null>(64);
  /** Node binaries without the constants (their JavaScript frames stay unnamed). */
  withoutConstants = 0;

  constructor(
    private readonly onDetach?: (pid: number) => void,
    private readonly procRoot = '/proc',
  ) {}

  attach(pid: number, binaries: readonly MappedBinary[]): ExtensionPart | undefined {
    for (const mb of binaries) {
      if (!V8_BINARY.test(path.basename(mb.binary.path))) continue;
      const bin = this.binaryOf(pid, mb);
      if (!bin) continue;
      // struct v8_proc: builtins start and end, the function slot, JSFunction::shared.
      const value = Buffer.alloc(V8_PART.bytes);
      if (bin.builtinsEnd > bin.builtinsStart) {
        value.writeBigUInt64LE(BigInt(bin.builtinsStart + mb.bias), 0);
        value.writeBigUInt64LE(BigInt(bin.builtinsEnd + mb.bias), 8);
      }
      value.writeInt32LE(bin.constants.fpFunction, 16);
      value.writeUInt32LE(bin.constants.jsFunctionShared, 20);
      // Kept after detach (bounded): the samples of a process that has just exited are named while its memory lasts.
      this.byPid.set(pid, { constants: bin.constants });
      return { flag: PROC_V8, offset: V8_PART.offset, bytes: value };
    }
    return undefined;
  }

  detach(pid: number): void {
    this.onDetach?.(pid);
  }

  of(pid: number): V8Process | undefined {
    return this.byPid.get(pid);
  }

  private binaryOf(pid: number, mb: MappedBinary): V8Binary | null {
    const cached = this.binaries.get(mb.binary.symbolsKey);
    if (cached !== undefined) return cached;
    const read = readMappedBinary(pid, mb, readV8Binary, this.procRoot);
    if (!read) return null;
    if (!read.value) this.withoutConstants++;
    this.binaries.set(mb.binary.symbolsKey, read.value ?? null);
    return read.value ?? null;
  }
}
