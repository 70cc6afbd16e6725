import type { Libbpf } from './libbpf.js';

const ENOENT = 2;
let tokens: [Buffer, Buffer] = [Buffer.alloc(16), Buffer.alloc(16)];
const count = Buffer.alloc(4);

/**
 * Reads and deletes every entry of a BPF hash map with batch syscalls, calling `row(keys, values, i)`
 * for each. `keys`/`values` hold `batch` entries; big enough that a hash bucket never overflows a batch
 * (ENOSPC). ENOENT from the kernel means "nothing after this batch": success, and the rows it returned
 * still count.
 */
export function drainMap(
  lib: Libbpf,
  fd: number,
  sizes: { readonly key: number; readonly value: number; readonly batch: number },
  keys: Buffer,
  values: Buffer,
  row: (keys: Buffer, values: Buffer, i: number) => void,
): void {
  let inBatch: Buffer | null = null;
  // The batch tokens and count are the same few bytes every call (several a second): kept, not allocated.
  if (tokens[0].length < sizes.key) tokens = [Buffer.alloc(sizes.key), Buffer.alloc(sizes.key)];
  let outBatch: Buffer = tokens[0];
  for (;;) {
    count.writeUInt32LE(sizes.batch);
    const rc = lib.mapLookupAndDeleteBatch(fd, inBatch, outBatch, keys, values, count);
    if (rc < 0 && rc !== -ENOENT) throw new Error(`reading BPF map failed: errno ${-rc}`);
    const n = count.readUInt32LE();
    for (let i = 0; i < n; i++) row(keys, values, i);
    if (rc === -ENOENT || n === 0) return;
    const next: Buffer = inBatch ?? tokens[1];
    inBatch = outBatch;
    outBatch = next;
  }
}
