/**
 * The value of the BPF `procs` map (bpf/unwind.h, struct proc_info): a process's flags, the parts its
 * interpreter readers own (the CPython part, struct py_proc; the V8 part, struct v8_proc), then its
 * executable mappings sorted by start, each with its load bias and its binary's slice of unwind_rows.
 * One write per process load or table change, always of the whole entry (process-tables.ts).
 */

export const MAX_MAPPINGS = 128;
const MAPPING_BYTES = 32;
/** Where each reader's part of the entry starts, and its size (bpf/unwind.h struct py_proc, struct v8_proc). */
export const PY_PART = { offset: 8, bytes: 72 } as const;
export const V8_PART = { offset: 80, bytes: 24 } as const;
/** Where the mappings start. */
export const MAPPINGS_AT = 104;
export const PROC_INFO_BYTES = MAPPINGS_AT + MAX_MAPPINGS * MAPPING_BYTES;

/** A reader's part of a process's entry: `bytes` at `offset` (PY_PART, V8_PART). */
export interface ProcPart {
  readonly offset: number;
  readonly bytes: Buffer;
}
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
export function procInfoValue(flags: number, mappings: readonly ProcMapping[], into = Buffer.alloc(PROC_INFO_BYTES), parts: readonly ProcPart[] = []): Buffer {
  into.fill(0);
  const n = Math.min(MAX_MAPPINGS, mappings.length);
  into.writeUInt32LE(flags, 0);
  into.writeUInt32LE(n, 4);
  for (const p of parts) {
    if (p.offset < 8 || p.offset + p.bytes.length > MAPPINGS_AT) throw new RangeError(`a part of ${p.bytes.length} bytes at ${p.offset} is outside the entry's parts`);
    p.bytes.copy(into, p.offset);
  }
  for (let i = 0; i < n; i++) {
    const m = mappings[i]!;
    const o = MAPPINGS_AT + i * MAPPING_BYTES;
    writeU64(into, m.start, o);
    writeU64(into, m.end, o + 8);
    writeU64(into, m.bias, o + 16);
    into.writeUInt32LE(m.first, o + 24);
    into.writeUInt32LE(m.count, o + 28);
  }
  return into;
}

/**
 * Writes an integer of at most 53 bits (negative: two's complement, as a bias below the file's
 * addresses is) as a little-endian u64 in two 32-bit halves: three BigInts per mapping were most of
 * what packing a process's entry cost.
 */
function writeU64(into: Buffer, x: number, at: number): void {
  const hi = Math.floor(x / 2 ** 32);
  into.writeUInt32LE(x - hi * 2 ** 32, at);
  into.writeUInt32LE(hi >>> 0, at + 4);
}
