/**
 * The BPF maps the unwinder (ProcessTables, TableStore) uses, in memory, for benches that replay what a
 * new process costs the agent without BPF or root: new-process events pushed to `events` are handed out
 * by the next drain of `pid_events` (fd 2), every other map reads empty, writes succeed.
 */
export function unwinderBpfStandIn(events: number[]) {
  const rows = Buffer.alloc(64 << 20);
  const lib = {
    mapLookupAndDeleteBatch: (fd: number, _i: unknown, _o: unknown, keys: Buffer, values: Buffer, count: Buffer) => {
      let n = 0;
      if (fd === 2) {
        for (const pid of events.splice(0)) {
          keys.writeUInt32LE(pid, n * 4);
          values.writeUInt32LE(1, n * 16); // EV_NEW
          values.writeBigUInt64LE(1n, n * 16 + 8);
          n++;
        }
      }
      count.writeUInt32LE(n);
      return -2; // ENOENT: all read
    },
    mapUpdateElem: () => 0,
    mapDeleteElem: () => 0,
  };
  return { lib, mmap: (offset: number, length: number) => ({ bytes: rows.subarray(offset, offset + length), unmap: () => {} }) };
}
