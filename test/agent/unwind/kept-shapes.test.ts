import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { codeDroppedAtGc } from '../dropped-at-gc.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/compile-after-gc.ts', import.meta.url));
const LIBC = '/usr/lib/x86_64-linux-gnu/libc.so.6';
/**
 * The unwinder's and the ELF reader's functions that each such GC dropped before their shapes were kept.
 * Not `forEachEntry`: its optimized code inlines the callback its caller makes per call (cfi.ts), and V8 drops
 * it when that closure dies — a closure, not a shape, so it is still dropped in about half of the runs.
 */
const UNWINDER_AND_ELF = new Set(['Cursor', 'u8', 'u16', 'u32', 's32', 'uleb', 'need', 'readEncoded', 'readRange', 'readFdeHeader', 'fdeAt', 'run', 'runFde', 'CfaProgram', 'set', 'restore', 'advance', 'row', 'push', 'add', 'addressOrder', 'compileRows', 'nextFunction', 'nextNamedFunction', 'nameOff', 'value', 'size', 'stringEnds', 'functionsOfUnreadStrings', 'functionSymbolsInto']);

describe('the unwinder and ELF reader across GCs (kept-shapes.ts)', () => {
  it('keeps their optimized code when a full GC runs between two binaries', () => {
    expect(existsSync(LIBC), `${LIBC} is missing: this test reads the C library of Debian/Ubuntu x86_64`).toBe(true);
    // Without one live object of each short-lived shape, each GC here dropped ≈ 40 functions' code (the CFI
    // cursor's readers, the row merge, the symbol walk) and they were optimized again for the next binary.
    expect(codeDroppedAtGc(FIXTURE, [LIBC], '### round 2 done').filter((name) => UNWINDER_AND_ELF.has(name))).toEqual([]);
  });
});
