/**
 * A small JFR writer for tests: chunks with hand-chosen types, constant pools and events, so a test
 * can build what a JVM rarely records (async-profiler's wall-clock and context ids, huge or deep
 * stacks, broken offsets) and know exactly what Kiln must read back. Written from the format: a
 * 68-byte header, events as size + type id + fields, type 0 the metadata, type 1 a checkpoint.
 */

export interface FieldSpec {
  readonly name: string;
  readonly type: string;
  readonly pooled?: boolean;
  readonly array?: boolean;
}

export type Value = number | boolean | string | readonly Value[] | { readonly [field: string]: Value };

export interface ChunkSpec {
  /** Class name → fields (primitives long, int, boolean and java.lang.String need no entry). */
  readonly types: Readonly<Record<string, readonly FieldSpec[]>>;
  /** Class name → (constant id → value). */
  readonly pools: Readonly<Record<string, ReadonlyMap<number, Value>>>;
  readonly events: readonly { readonly type: string; readonly value: { readonly [field: string]: Value } }[];
  readonly compressed?: boolean;
  readonly ticksPerSecond?: number;
  readonly startNanos?: number;
}

const PRIMITIVES = ['long', 'int', 'boolean', 'java.lang.String'];

class Out {
  readonly bytes: number[] = [];
  constructor(private readonly compressed: boolean) {}

  u8(b: number): void {
    this.bytes.push(b & 0xff);
  }
  fixed(n: number, width: 4 | 8): void {
    let v = BigInt.asUintN(width * 8, BigInt(n));
    const out: number[] = [];
    for (let i = 0; i < width; i++) {
      out.unshift(Number(v & 0xffn));
      v >>= 8n;
    }
    this.bytes.push(...out);
  }
  varint(n: number): void {
    this.bytes.push(...varintBytes(n));
  }
  int(n: number): void {
    if (this.compressed) this.varint(n);
    else this.fixed(n, 4);
  }
  long(n: number): void {
    if (this.compressed) this.varint(n);
    else this.fixed(n, 8);
  }
  string(s: string): void {
    const utf8 = new TextEncoder().encode(s);
    this.u8(3);
    this.int(utf8.length);
    this.bytes.push(...utf8);
  }
}

/** JFR's compressed integer: 7 bits a byte for 8 bytes, then a 9th byte with 8 bits. */
export function varintBytes(n: number): number[] {
  let v = BigInt.asUintN(64, BigInt(n));
  const out: number[] = [];
  for (let i = 0; i < 8; i++) {
    if (v < 0x80n) {
      out.push(Number(v));
      return out;
    }
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v & 0xffn));
  return out;
}

/** An event: its size (counting the size field itself) then the payload. */
function event(payload: readonly number[], compressed: boolean): number[] {
  if (!compressed) {
    const o = new Out(false);
    o.fixed(payload.length + 4, 4);
    return [...o.bytes, ...payload];
  }
  let size = payload.length + 1;
  while (varintBytes(size).length + payload.length !== size) size = payload.length + varintBytes(size).length;
  return [...varintBytes(size), ...payload];
}

export function writeChunk(spec: ChunkSpec): Uint8Array {
  const compressed = spec.compressed ?? true;
  const names = [...PRIMITIVES, ...Object.keys(spec.types)];
  const ids = new Map(names.map((n, i) => [n, 100 + i]));
  const idOf = (name: string): number => {
    const id = ids.get(name);
    if (id === undefined) throw new Error(`type ${name} is not declared`);
    return id;
  };
  const fieldsOf = (name: string): readonly FieldSpec[] => spec.types[name] ?? [];

  const writeValue = (o: Out, type: string, v: Value): void => {
    switch (type) {
      case 'long':
        return o.long(v as number);
      case 'int':
        return o.int(v as number);
      case 'boolean':
        return o.u8(v ? 1 : 0);
      case 'java.lang.String':
        return o.string(v as string);
    }
    const obj = v as { readonly [field: string]: Value };
    // A field without a value is left out, so a test can cut a self-nesting value short.
    for (const f of fieldsOf(type)) if (obj[f.name] !== undefined) writeField(o, f, obj[f.name]!);
  };
  const writeField = (o: Out, f: FieldSpec, v: Value): void => {
    const one = (x: Value): void => (f.pooled ? o.long(x as number) : writeValue(o, f.type, x));
    if (!f.array) return one(v);
    const arr = v as readonly Value[];
    o.int(arr.length);
    for (const x of arr) one(x);
  };

  // Metadata: a string table, then root → metadata → class → field elements.
  const strings: string[] = [];
  const si = (s: string): number => {
    let i = strings.indexOf(s);
    if (i < 0) i = strings.push(s) - 1;
    return i;
  };
  const tree = new Out(compressed);
  const element = (name: string, attrs: [string, string][], children: () => number, write: () => void): void => {
    tree.int(si(name));
    tree.int(attrs.length);
    for (const [k, v] of attrs) {
      tree.int(si(k));
      tree.int(si(v));
    }
    tree.int(children());
    write();
  };
  element('root', [], () => 1, () => {
    element('metadata', [], () => names.length, () => {
      for (const n of names) {
        element('class', [['id', String(idOf(n))], ['name', n]], () => fieldsOf(n).length, () => {
          for (const f of fieldsOf(n)) {
            const attrs: [string, string][] = [['name', f.name], ['class', String(idOf(f.type))]];
            if (f.pooled) attrs.push(['constantPool', 'true']);
            if (f.array) attrs.push(['dimension', '1']);
            element('field', attrs, () => 0, () => {});
          }
        });
      }
    });
  });
  const meta = new Out(compressed);
  meta.long(0);
  meta.long(0);
  meta.long(0);
  meta.long(1);
  meta.int(strings.length);
  for (const s of strings) meta.string(s);
  meta.bytes.push(...tree.bytes);

  const cp = new Out(compressed);
  cp.long(1);
  cp.long(0);
  cp.long(0);
  cp.long(0);
  cp.u8(0);
  const pools = Object.entries(spec.pools);
  cp.int(pools.length);
  for (const [type, pool] of pools) {
    cp.long(idOf(type));
    cp.int(pool.size);
    for (const [id, v] of pool) {
      cp.long(id);
      writeValue(cp, type, v);
    }
  }

  const body: number[] = [];
  body.push(...event(cp.bytes, compressed));
  for (const e of spec.events) {
    const o = new Out(compressed);
    o.long(idOf(e.type));
    writeValue(o, e.type, e.value);
    body.push(...event(o.bytes, compressed));
  }
  const metaOffset = 68 + body.length;
  body.push(...event(meta.bytes, compressed));

  const header = new Out(false);
  header.bytes.push(0x46, 0x4c, 0x52, 0x00, 0, 2, 0, 1);
  header.fixed(68 + body.length, 8);
  header.fixed(68, 8); // the checkpoint is the first event
  header.fixed(metaOffset, 8);
  header.fixed(spec.startNanos ?? 1_700_000_000_000_000_000, 8);
  header.fixed(1_000_000_000, 8);
  header.fixed(0, 8);
  header.fixed(spec.ticksPerSecond ?? 1_000_000_000, 8);
  header.fixed(compressed ? 1 : 0, 4);
  return Uint8Array.from([...header.bytes, ...body]);
}
