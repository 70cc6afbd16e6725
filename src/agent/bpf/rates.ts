import type { RateChange } from '../adaptive.js';
import type { Libbpf } from './libbpf.js';

/** Writes --adaptive's keep probabilities into the BPF `rates` map (pid → probability × 2^32). */
export class ProcessRates {
  private readonly key = Buffer.alloc(4);
  private readonly value = Buffer.alloc(8);

  constructor(
    private readonly lib: Libbpf,
    private readonly fd: number,
  ) {}

  apply(changes: readonly RateChange[]): void {
    for (const c of changes) {
      this.key.writeUInt32LE(c.pid);
      if (c.keep === undefined) {
        this.lib.mapDeleteElem(this.fd, this.key);
        continue;
      }
      this.value.writeBigUInt64LE(BigInt(Math.round(Math.min(1, Math.max(0, c.keep)) * 2 ** 32)));
      this.lib.mapUpdateElem(this.fd, this.key, this.value, 0);
    }
  }
}
