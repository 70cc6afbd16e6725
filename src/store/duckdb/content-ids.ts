import xxhash from 'xxhash-wasm';
import type { DictionaryIds, Id, SymbolDictionary } from '../../model/index.js';
import { functionId, locationId, mappingId } from '../../model/index.js';
import { BoundedCache } from './bounded-cache.js';

const { h64Raw } = await xxhash();
const CAPACITY = 500_000;

/**
 * `dictionaryIds` from the model, made cheap for the write path. Every push carries a fresh dictionary
 * naming mostly the same functions and frames as the last one, and hashing them all again was the
 * largest cost of a write: function, mapping and location ids are memoized by content across calls,
 * and stack ids are hashed from one reused buffer. Results are identical to the model's (a test checks).
 */
export class ContentIds {
  private readonly functions = new BoundedCache<string, Id>(CAPACITY);
  private readonly mappings = new BoundedCache<string, Id>(CAPACITY);
  private readonly locations = new BoundedCache<string, Id>(CAPACITY);
  private readonly noMapping = mappingId('', '');
  private stackBuf = new BigUint64Array(256);

  of(dict: SymbolDictionary): DictionaryIds {
    const mappingKeys = dict.mappings.map((m) => `${m.binary}\0${m.buildId}`);
    const mappings = dict.mappings.map((m, i) => this.memo(this.mappings, mappingKeys[i]!, () => mappingId(m.binary, m.buildId)));
    const functionKeys = dict.functions.map((f) => `${f.name}\0${f.systemName}\0${f.file}`);
    const functions = dict.functions.map((f, i) => this.memo(this.functions, functionKeys[i]!, () => functionId(f.name, f.systemName, f.file)));
    const locations = dict.locations.map((l) => {
      // Keyed by the content strings already built above (cheaper than printing 64-bit ids).
      // Symbolized frames are identified by their lines, not their address, as in the model.
      let key = l.mapping >= 0 ? mappingKeys[l.mapping]! : '';
      if (l.lines.length === 0) key += `\x01@${l.address}`;
      else for (const ln of l.lines) key += `\x01${ln.line}\x01${functionKeys[ln.function]!}`;
      return this.memo(this.locations, key, () =>
        locationId(
          l.mapping >= 0 ? mappings[l.mapping]! : this.noMapping,
          l.lines.length > 0 ? 0n : l.address,
          l.lines.map((ln) => ({ functionId: functions[ln.function]!, line: ln.line })),
        ),
      );
    });
    const stacks = dict.stacks.map((s) => this.stackId(s, locations));
    return { mappings, functions, locations, stacks };
  }

  /** The model's `stackId` (xxhash64 of [3, location ids…] as little-endian u64s) without allocating. */
  private stackId(stack: readonly number[], locations: readonly Id[]): Id {
    if (this.stackBuf.length < stack.length + 1) this.stackBuf = new BigUint64Array(stack.length * 2 + 1);
    const buf = this.stackBuf;
    buf[0] = 3n;
    for (let i = 0; i < stack.length; i++) buf[i + 1] = locations[stack[i]!]!;
    return h64Raw(new Uint8Array(buf.buffer, 0, (stack.length + 1) * 8));
  }

  private memo(cache: BoundedCache<string, Id>, key: string, compute: () => Id): Id {
    let id = cache.get(key);
    if (id === undefined) {
      id = compute();
      cache.set(key, id);
    }
    return id;
  }
}
