/**
 * CPython struct offsets by version (x86_64, default build — not the 3.13 free-threaded one), as the C
 * compiler computed them from each version's own headers with gen-offsets.sh (pyenv 3.8.18, 3.9.18,
 * 3.10.13, 3.11.7, 3.12.1, 3.13.0). The layouts these fields sit in do not change within a minor version;
 * Debian 12's python3.11 (3.11.2) is proven by test/agent/proof-python.test.ts.
 *
 * What each is for: the BPF walker (bpf/unwind.h, struct py_offsets) finds the sampled thread's state
 * (_PyRuntime → interpreters.head → threads, matched by thread_id = pthread_self()), follows its frame
 * chain and records (code object, instruction) per frame; the agent reads names, file and line table
 * from the code object (code.ts).
 */

/** Marks a field a version does not have. */
export const NONE = 0xffff;

export interface PyOffsets {
  readonly interpHead: number;
  readonly interpThreads: number;
  readonly tstateNext: number;
  readonly tstateThreadId: number;
  /** tstate->frame (≤ 3.10), ->cframe (3.11, 3.12), ->current_frame (3.13). */
  readonly tstateFrame: number;
  /** _PyCFrame.current_frame, NONE when tstateFrame leads to the frame directly. */
  readonly cframeFrame: number;
  readonly frameCode: number;
  readonly framePrevious: number;
  /** f_lasti (int, ≤ 3.10), prev_instr (3.11, 3.12), instr_ptr (3.13). */
  readonly frameInstr: number;
  readonly frameOwner: number;
  readonly frameIsEntry: number;
  /** Offset of the first code unit in a code object (3.11+). */
  readonly codeAdaptive: number;
  readonly codeQualname: number;
  readonly codeFilename: number;
  readonly codeName: number;
  readonly codeFirstLineno: number;
  /** co_linetable (3.10+), co_lnotab (3.8, 3.9). */
  readonly codeLinetable: number;
  readonly asciiState: number;
  /** Where a compact ASCII string's characters start (sizeof(PyASCIIObject)). */
  readonly asciiData: number;
  /** Where a compact non-ASCII string's characters start (sizeof(PyCompactUnicodeObject)). */
  readonly compactData: number;
  readonly unicodeLength: number;
  readonly bytesSize: number;
  readonly bytesData: number;
}

export const PY_OFFSETS: Readonly<Record<string, PyOffsets>> = {
  '3.8': {
    interpHead: 32,
    interpThreads: 8,
    tstateNext: 8,
    tstateThreadId: 176,
    tstateFrame: 24,
    cframeFrame: NONE,
    frameCode: 32,
    framePrevious: 24,
    frameInstr: 104,
    frameOwner: NONE,
    frameIsEntry: NONE,
    codeAdaptive: 0,
    codeQualname: 112,
    codeFilename: 104,
    codeName: 112,
    codeFirstLineno: 40,
    codeLinetable: 120,
    asciiState: 32,
    asciiData: 48,
    compactData: 72,
    unicodeLength: 16,
    bytesSize: 16,
    bytesData: 32,
  },
  '3.9': {
    interpHead: 32,
    interpThreads: 8,
    tstateNext: 8,
    tstateThreadId: 176,
    tstateFrame: 24,
    cframeFrame: NONE,
    frameCode: 32,
    framePrevious: 24,
    frameInstr: 104,
    frameOwner: NONE,
    frameIsEntry: NONE,
    codeAdaptive: 0,
    codeQualname: 112,
    codeFilename: 104,
    codeName: 112,
    codeFirstLineno: 40,
    codeLinetable: 120,
    asciiState: 32,
    asciiData: 48,
    compactData: 72,
    unicodeLength: 16,
    bytesSize: 16,
    bytesData: 32,
  },
  '3.10': {
    interpHead: 32,
    interpThreads: 8,
    tstateNext: 8,
    tstateThreadId: 176,
    tstateFrame: 24,
    cframeFrame: NONE,
    frameCode: 32,
    framePrevious: 24,
    frameInstr: 96,
    frameOwner: NONE,
    frameIsEntry: NONE,
    codeAdaptive: 0,
    codeQualname: 112,
    codeFilename: 104,
    codeName: 112,
    codeFirstLineno: 40,
    codeLinetable: 120,
    asciiState: 32,
    asciiData: 48,
    compactData: 72,
    unicodeLength: 16,
    bytesSize: 16,
    bytesData: 32,
  },
  '3.11': {
    interpHead: 40,
    interpThreads: 16,
    tstateNext: 8,
    tstateThreadId: 152,
    tstateFrame: 56,
    cframeFrame: 8,
    frameCode: 32,
    framePrevious: 48,
    frameInstr: 56,
    frameOwner: 69,
    frameIsEntry: 68,
    codeAdaptive: 184,
    codeQualname: 128,
    codeFilename: 112,
    codeName: 120,
    codeFirstLineno: 72,
    codeLinetable: 136,
    asciiState: 32,
    asciiData: 48,
    compactData: 72,
    unicodeLength: 16,
    bytesSize: 16,
    bytesData: 32,
  },
  '3.12': {
    interpHead: 40,
    interpThreads: 72,
    tstateNext: 8,
    tstateThreadId: 136,
    tstateFrame: 56,
    cframeFrame: 0,
    frameCode: 0,
    framePrevious: 8,
    frameInstr: 56,
    frameOwner: 70,
    frameIsEntry: NONE,
    codeAdaptive: 192,
    codeQualname: 128,
    codeFilename: 112,
    codeName: 120,
    codeFirstLineno: 68,
    codeLinetable: 136,
    asciiState: 32,
    asciiData: 40,
    compactData: 56,
    unicodeLength: 16,
    bytesSize: 16,
    bytesData: 32,
  },
  '3.13': {
    interpHead: 632,
    interpThreads: 7344,
    tstateNext: 8,
    tstateThreadId: 152,
    tstateFrame: 72,
    cframeFrame: NONE,
    frameCode: 0,
    framePrevious: 8,
    frameInstr: 56,
    frameOwner: 70,
    frameIsEntry: NONE,
    codeAdaptive: 200,
    codeQualname: 128,
    codeFilename: 112,
    codeName: 120,
    codeFirstLineno: 68,
    codeLinetable: 136,
    asciiState: 32,
    asciiData: 40,
    compactData: 56,
    unicodeLength: 16,
    bytesSize: 16,
    bytesData: 32,
  },
};
