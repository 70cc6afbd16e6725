import { closeSync, readSync } from 'node:fs';

/**
 * Where a symbol table's names live. A table is kept for as long as its binary runs, and its names are
 * most of its size (node's 150 000 C++ names: ≈ 7 MiB of UTF-8, against ≈ 1.2 MiB of addresses), while a
 * profile only ever shows a few hundred of them — and the symbolizer caches each name it returns. So
 * names are kept either as one UTF-8 blob (kallsyms, the vdso, Go tables, debug files) or, for a binary
 * the agent can open itself, not at all: as offsets into the binary's own string table, read with pread
 * when a lookup hits them.
 */
export interface SymbolNames {
  /** Name of symbol i (in the table's address order); undefined when it cannot be read. */
  name(i: number): string | undefined;
  /** Bytes these names hold in memory. */
  readonly byteSize: number;
}

/** Name i is bytes[offsets[i], offsets[i + 1]). */
export class BlobNames implements SymbolNames {
  constructor(
    private readonly offsets: Uint32Array,
    private readonly bytes: Buffer,
  ) {}

  name(i: number): string {
    return this.bytes.toString('utf8', this.offsets[i], this.offsets[i + 1]);
  }

  get byteSize(): number {
    return this.offsets.byteLength + this.bytes.length;
  }
}

/**
 * An open binary whose string tables names are read from. Only files on the agent's own filesystem are
 * held open (binary.ts checks): a descriptor into a container's root would keep its mount busy when the
 * container is torn down. The descriptor is closed when the last table using it is collected — tables
 * leave the symbolizer's cache by eviction without telling anyone.
 */
export class NameFile {
  private static readonly closer = new FinalizationRegistry<number>((fd) => {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
  });

  constructor(
    private readonly fd: number,
    /** Bytes in the file: no name is read past it. */
    readonly size: number,
  ) {
    NameFile.closer.register(this, fd);
  }

  /** Fills `into` with the file's bytes from `offset`; false when they cannot all be read. */
  readAt(offset: number, into: Buffer): boolean {
    let done = 0;
    try {
      while (done < into.length) {
        const n = readSync(this.fd, into, done, into.length - done, offset + done);
        if (n === 0) return false;
        done += n;
      }
    } catch {
      return false;
    }
    return true;
  }

  /** The NUL-terminated string at `offset`, or undefined when unreadable (file truncated since). */
  stringAt(offset: number): string | undefined {
    let want = 256;
    for (;;) {
      const length = Math.min(want, this.size - offset);
      if (length <= 0) return undefined;
      const buf = scratch(length);
      let got: number;
      try {
        got = readSync(this.fd, buf, 0, length, offset);
      } catch {
        return undefined;
      }
      const end = buf.indexOf(0);
      if (end >= 0 && end < got) return buf.toString('utf8', 0, end);
      // No terminator yet: a long (C++ template) name, or the end of the file.
      if (got < length || want >= MAX_NAME) return undefined;
      want *= 4;
    }
  }
}

/** Longest name read from a file; a string table entry longer than this is damage, not a name. */
const MAX_NAME = 64 * 1024;
let scratchBuf = Buffer.allocUnsafeSlow(256);
function scratch(length: number): Buffer {
  if (scratchBuf.length < length) scratchBuf = Buffer.allocUnsafeSlow(length);
  return scratchBuf.subarray(0, length);
}

/** Name i is the string at file offset offsets[i] of `file`. 4 bytes per symbol in memory. */
export class FileNames implements SymbolNames {
  constructor(
    private readonly file: NameFile,
    private readonly offsets: Uint32Array,
  ) {}

  name(i: number): string | undefined {
    const s = this.file.stringAt(this.offsets[i]!);
    return s === '' ? undefined : s;
  }

  get byteSize(): number {
    return this.offsets.byteLength;
  }
}
