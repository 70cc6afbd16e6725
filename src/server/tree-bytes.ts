import type { FlameNode } from '../query/tree.js';

/**
 * Pyroscope's serialized tree (SelectMergeStacktraces with format=TREE): nodes depth-first from a
 * nameless virtual root, each as uvarint(name length), name bytes, uvarint(self), uvarint(child count).
 * Children are pushed on a stack and popped, so they are written last-first — readers rebuild the
 * same tree because they insert by name.
 */
export function encodeTreeBytes(root: FlameNode): Uint8Array {
  if (root.children.length === 0) return new Uint8Array(0);
  const out: number[] = [];
  const enc = new TextEncoder();
  const varint = (v: number): void => {
    let n = Math.max(0, Math.round(v));
    while (n >= 0x80) {
      out.push((n % 0x80) | 0x80);
      n = Math.floor(n / 0x80);
    }
    out.push(n);
  };
  const todo: { name: string; self: number; children: readonly FlameNode[] }[] = [{ name: '', self: 0, children: root.children }];
  while (todo.length > 0) {
    const n = todo.pop()!;
    const name = enc.encode(n.name);
    varint(name.length);
    for (const b of name) out.push(b);
    varint(n.self);
    varint(n.children.length);
    for (const c of n.children) todo.push(c);
  }
  return Uint8Array.from(out);
}
