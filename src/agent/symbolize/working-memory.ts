import { closeSync, openSync, readSync } from 'node:fs';
import koffi from 'koffi';
import { loadGlibc, type NativePointer } from '../glibc.js';

/**
 * Memory for first-time work that is read, turned into something kept, and dropped: an ELF section
 * parsed into symbols or unwind rows, the raw rows of a compile, what a perf map gained. A Buffer or
 * typed array for it is dead as soon as the work ends, but V8 frees an ArrayBuffer's memory only when
 * a GC finds it dead, and starts a GC for off-heap memory only after that has grown 64 MiB: one agent
 * showed 50 MiB of "external" memory of which 10.8 MiB was live (issue 11); compiling node's unwind
 * table alone made > 20 MiB of such arrays. Kept instead as reusable buffers, they pinned ≈ 15 MiB
 * for good (side by side: +9.6 MiB of mean RSS).
 *
 * So the bytes come from the C heap (malloc through koffi, viewed as ArrayBuffers) and are freed when
 * the work ends (`release`, or `withWorkingMemory`): with the agent's pinned mmap threshold
 * (malloc-tuning.ts), a block of 128 KiB or more goes back to the kernel at once. Every view handed
 * out is invalid after release — no view may outlive the work. Where libc cannot be loaded, plain
 * ArrayBuffers (left to the GC) stand in.
 */
type WorkingArray = Uint8Array | Uint32Array | Float64Array | BigUint64Array;
interface WorkingArrayType<T extends WorkingArray> {
  new (buffer: ArrayBuffer): T;
  readonly BYTES_PER_ELEMENT: number;
}

export class WorkingMemory {
  private readonly blocks = new Map<ArrayBuffer, NativePointer>();
  private static live = 0;

  /** Bytes of working memory not yet released, in all instances (tests, metrics). */
  static get outstandingBytes(): number {
    return WorkingMemory.live;
  }

  /** `length` bytes, contents undefined. */
  bytes(length: number): Buffer {
    return Buffer.from(this.arrayBuffer(length));
  }

  /** `length` u32 words, contents undefined. */
  words(length: number): Uint32Array {
    return this.array(Uint32Array, length);
  }

  /** `length` doubles, contents undefined. */
  doubles(length: number): Float64Array {
    return this.array(Float64Array, length);
  }

  /** A typed array of `length` elements, contents undefined. */
  array<T extends WorkingArray>(type: WorkingArrayType<T>, length: number): T {
    return new type(this.arrayBuffer(length * type.BYTES_PER_ELEMENT));
  }

  /** `length` elements starting with the first `keep` of `from`; `from`, if this memory's, is freed. */
  grown<T extends WorkingArray>(from: T, keep: number, length: number): T {
    const grown = this.array(from.constructor as WorkingArrayType<T>, length);
    (grown as { set(a: ArrayLike<number | bigint>): void }).set(from.subarray(0, keep));
    this.free(from.buffer as ArrayBuffer);
    return grown;
  }

  /** `length` bytes starting with the first `keep` of `from`; `from`, if this memory's, is freed. */
  grownBytes(from: Buffer, keep: number, length: number): Buffer {
    const grown = this.bytes(length);
    from.copy(grown, 0, 0, keep);
    this.free(from.buffer as ArrayBuffer);
    return grown;
  }

  /**
   * A whole file read into this memory, e.g. a /proc file (which reports size 0, so it is read in
   * chunks into a buffer grown by doublings).
   */
  readFile(path: string, initialBytes = 1 << 20): Buffer {
    const fd = openSync(path, 'r');
    try {
      let buf = this.bytes(initialBytes);
      let n = 0;
      for (;;) {
        if (n === buf.length) buf = this.grownBytes(buf, n, buf.length * 2);
        const got = readSync(fd, buf, n, buf.length - n, null);
        if (got === 0) return buf.subarray(0, n);
        n += got;
      }
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Frees the block `view` lies in, before the rest, when it is this memory's (else nothing: a plain
   * buffer is left to the GC). Every view of that block is invalid from here on.
   */
  drop(view: ArrayBufferView): void {
    this.free(view.buffer as ArrayBuffer);
  }

  /** Frees every block: each view handed out is invalid from here on. */
  release(): void {
    for (const ab of [...this.blocks.keys()]) this.free(ab);
  }

  private arrayBuffer(length: number): ArrayBuffer {
    const libc = length > 0 ? loadGlibc() : null;
    const block = libc?.malloc(length);
    if (!libc || !block) return new ArrayBuffer(length);
    const ab = koffi.view(block, length);
    this.blocks.set(ab, block);
    WorkingMemory.live += length;
    return ab;
  }

  private free(ab: ArrayBuffer): void {
    const block = this.blocks.get(ab);
    if (block === undefined) return;
    this.blocks.delete(ab);
    WorkingMemory.live -= ab.byteLength;
    loadGlibc()!.free(block);
  }
}

/** Runs `fn` with working memory freed when it returns or throws: what `fn` returns must hold no view of it. */
export function withWorkingMemory<T>(fn: (memory: WorkingMemory) => T): T {
  const memory = new WorkingMemory();
  try {
    return fn(memory);
  } finally {
    memory.release();
  }
}
