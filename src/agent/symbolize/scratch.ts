/**
 * Working memory allocated once and reused, for first-time work whose bytes are read, turned into
 * something kept, and dropped: an ELF section parsed into symbols or unwind rows, the raw rows of a
 * compile. A fresh buffer per use is dead as soon as the work ends, but V8 frees an ArrayBuffer's memory
 * only when a GC finds it dead, and it starts a GC for off-heap memory only after that has grown 64 MiB:
 * one agent showed 50 MiB of "external" memory of which 10.8 MiB was live (issue 11). A scratch buffer
 * is grown in doublings and kept, so the work leaves nothing behind to wait for a GC.
 *
 * Requests past `keepBytes` get a buffer of their own, not kept: one very large binary must not pin its
 * size in the agent for the rest of its life. Nor does a quiet host: unused for `idleMs`, the memory
 * is let go (first-time work comes in bursts — start-up, a deploy — not every interval).
 */
export class Scratch {
  private buffer: ArrayBuffer | undefined;
  private lastUse = 0;
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly keepBytes: number,
    private readonly idleMs = 60_000,
  ) {}

  /** `length` bytes of working memory, valid until the next call (contents undefined). */
  bytes(length: number): Buffer {
    return Buffer.from(this.arrayBuffer(length), 0, length);
  }

  /** `length` u32 words of working memory, valid until the next call (contents undefined). */
  words(length: number): Uint32Array {
    return new Uint32Array(this.arrayBuffer(length * 4), 0, length);
  }

  /** `length` doubles of working memory, valid until the next call (contents undefined). */
  doubles(length: number): Float64Array {
    return new Float64Array(this.arrayBuffer(length * 8), 0, length);
  }

  /**
   * `length` elements that start with the first `keep` of `from` (a view this scratch gave before, or
   * any array of the same type): a growable array that reuses the scratch's memory.
   */
  grown<T extends Uint32Array | Float64Array>(from: T, keep: number, length: number): T {
    // A doubling past what is kept stops at it while that still grows the array.
    const keptLength = Math.floor(this.keepBytes / from.BYTES_PER_ELEMENT);
    if (length > keptLength && keptLength > from.length) length = keptLength;
    const bytes = length * from.BYTES_PER_ELEMENT;
    const wide = from instanceof Float64Array;
    if (from.buffer === this.buffer && bytes <= this.buffer.byteLength) return (wide ? this.doubles(length) : this.words(length)) as T;
    // The grown memory is never `from`'s: that either is not this scratch's or is too small for it.
    const grown = (wide ? this.doubles(length) : this.words(length)) as T;
    grown.set(from.subarray(0, keep));
    return grown;
  }

  /** Bytes held for reuse (for tests and metrics). */
  get retainedBytes(): number {
    return this.buffer?.byteLength ?? 0;
  }

  private arrayBuffer(length: number): ArrayBuffer {
    this.lastUse = Date.now();
    this.idleTimer ??= this.dropWhenIdle();
    if (this.buffer && length <= this.buffer.byteLength) return this.buffer;
    if (length > this.keepBytes) return new ArrayBuffer(length);
    let size = Math.max(64 * 1024, this.buffer?.byteLength ?? 0);
    while (size < length) size *= 2;
    this.buffer = new ArrayBuffer(Math.min(size, this.keepBytes));
    return this.buffer;
  }

  /** A timer (not keeping the process alive) that lets the memory go once unused for idleMs. */
  private dropWhenIdle(): NodeJS.Timeout {
    return setTimeout(() => {
      this.idleTimer = undefined;
      if (Date.now() - this.lastUse >= this.idleMs) this.buffer = undefined;
      else this.idleTimer = this.dropWhenIdle();
    }, this.idleMs).unref();
  }
}

/**
 * The one scratch for ELF sections that are parsed and not kept (`.eh_frame`, `.symtab` entries,
 * `.gopclntab`): each use reads one section and is done with it before the next read, synchronously.
 * 4 MiB covers node's and libc's; larger sections get a buffer of their own.
 */
export const parsedSections = new Scratch(4 << 20);
