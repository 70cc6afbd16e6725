/**
 * A V8 JavaScript frame in a user stack (bpf/kiln.h V8_FRAME_TAG): bit 63 set, bits 47–62 zero, bits
 * 0–46 the function's SharedFunctionInfo, tagged — so bit 0 is set, where a CPython frame's code
 * object address (also under bit 63) never has it.
 */
const FRAME_BIT = 1n << 63n;
/** Past the last V8 frame word: bits 47–62 clear under bit 63 is the range [2^63, 2^63 + 2^47). */
const FRAME_END = FRAME_BIT + (1n << 47n);

/** Whether a user frame word is a V8 frame (the caller has seen bit 63 set: python/code.ts isInterpreterFrame). */
export function isV8Frame(raw: bigint): boolean {
  // Range comparisons, not a shift: asked for every interpreter frame, and each BigInt operation makes a BigInt.
  return raw >= FRAME_BIT && raw < FRAME_END && (raw & 1n) === 1n;
}

/** The SharedFunctionInfo (tagged address) of a V8 frame. */
export function v8FrameFunction(raw: bigint): number {
  return Number(raw & 0x7fff_ffff_ffffn);
}
