/**
 * The value of the BPF `procs` map (bpf/unwind.h, struct proc_info): a process's flags and its
 * executable mappings sorted by start, each with its load bias and its binary's slice of unwind_rows.
 * One write per process load or table change.
 */

export const MAX_MAPPINGS = 128;
const MAPPING_BYTES = 32;
export const PROC_INFO_BYTES = 8 + MAX_MAPPINGS * MAPPING_BYTES;
/** `first` of a mapping whose table the walker should ask for (bpf/unwind.h NEED_TABLE). */
export const NEED_TABLE = 0xffffffff;

export interface ProcMapping {
  readonly start: number;
  readonly end: number;
  /** ELF virtual address = runtime address − bias. */
  readonly bias: number;
  /** The binary's slice of unwind_rows (count 0: walk by frame pointer), or NEED_TABLE. */
  readonly first: number;
  readonly count: number;
}

/**
 * Packs the value. Mappings must be sorted by start; past MAX_MAPPINGS the rest are left out (their
 * frames walk by frame pointer) — the most seen on this project's hosts was 45 (clickhouse-server).
 */
export function procInfoValue(flags: number, mappings: readonly ProcMapping[], into = Buffer.alloc(PROC_INFO_BYTES)): Buffer {
  into.fill(0);
  const n = Math.min(MAX_MAPPINGS, mappings.length);
  into.writeUInt32LE(flags, 0);
  into.writeUInt32LE(n, 4);
  for (let i = 0; i < n; i++) {
    const m = mappings[i]!;
    const o = 8 + i * MAPPING_BYTES;
    into.writeBigUInt64LE(BigInt(m.start), o);
    into.writeBigUInt64LE(BigInt(m.end), o + 8);
    into.writeBigUInt64LE(BigInt.asUintN(64, BigInt(m.bias)), o + 16);
    into.writeUInt32LE(m.first, o + 24);
    into.writeUInt32LE(m.count, o + 28);
  }
  return into;
}
