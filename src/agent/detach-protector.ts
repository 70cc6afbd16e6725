/**
 * Detaches one empty ArrayBuffer, once, at the agent's start — before any of its code is optimized.
 *
 * Why (issue 11, stop 33): V8 compiles typed-array and Buffer reads without a "was the buffer detached?"
 * check for as long as no ArrayBuffer in the process has ever been detached (its ArrayBufferDetaching
 * protector). The first detach invalidates that protector for the process's life and deoptimizes every
 * function compiled on it at once: in the agent ≈ 40 functions (node's Buffer readers, the CFI cursor's,
 * the ELF symbol walk's, the row packer's), optimized again over the next intervals. The agent's first
 * detach came from WebAssembly: the C++ demangler's (and the id hasher's) wasm memory detaches its old
 * buffer each time it grows, the first time when a long enough name first needs demangling — seconds or
 * minutes into the agent's life, whenever that name turns up. node's fetch detaches too (its body
 * streams). Detaching here spends the protector while nothing depends on it; the code compiled afterwards
 * carries the check from the start and nothing is thrown away later.
 */
let spent = false;

export function spendDetachProtector(): void {
  if (spent) return;
  spent = true;
  const empty = new ArrayBuffer(0);
  // A transfer detaches the source buffer (the same V8 call as a wasm memory's grow).
  structuredClone(empty, { transfer: [empty] });
}
