/**
 * A V8 JavaScript frame in a user stack (bpf/kiln.h V8_FRAME_TAG): bit 63 set, bits 47–62 zero, bits
 * 0–46 the function's SharedFunctionInfo, tagged — so bit 0 is set, where a CPython frame's code
 * object address (also under bit 63) never has it.
 */
const FRAME_BIT = 1n << 63n;

/** Whether a user frame word is a V8 frame (the caller has seen bit 63 set: python/code.ts isInterpreterFrame). */
export function isV8Frame(raw: bigint): boolean {
  return raw >= FRAME_BIT && (raw & 1n) === 1n && raw >> 47n === 1n << 16n;
}

/** The SharedFunctionInfo (tagged address) of a V8 frame. */
export function v8FrameFunction(raw: bigint): number {
  return Number(raw & 0x7fff_ffff_ffffn);
}
