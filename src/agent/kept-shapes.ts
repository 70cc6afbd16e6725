/**
 * One placeholder object of each shape the agent's first-time work makes and drops (an ELF symbol walk's
 * cursor, the CFI parser's cursors and records, an unwind compile's row buffers), held for the agent's life.
 *
 * Why (issue 11, stop 32): V8 keeps a class instance's or an object literal's final hidden class only
 * through live objects of it (the transitions that lead to it are weak), and optimized code holds the
 * hidden classes it checks weakly too. Between two binaries no such object lives, so a full GC freed
 * those hidden classes and deoptimized every function compiled against them at once ("weak objects":
 * ≈ 40 functions per GC — the CFI cursor's readers, node's Buffer readers inlined into them, the ELF
 * symbol walk), which were then optimized again at the next binary. A live object of each shape keeps its
 * hidden class, and with it that code. The placeholders are never read: their fields may hold views of
 * working memory already freed.
 */
const kept: object[] = [];

/** Holds `objects` for the process's life (see above); call once per module, at its end. */
export function keepShapes(...objects: object[]): void {
  kept.push(...objects);
}

