import { closeSync, openSync, readSync } from 'node:fs';
import { withElf, type ElfFile } from '../symbolize/elf.js';

/** Symbol table section types: the full table (local symbols too), the exported one. */
const SHT_SYMTAB = 2;
const SHT_DYNSYM = 11;

/**
 * V8's post-mortem constants (the `v8dbg_*` symbols node exports for debuggers such as llnode): the
 * frame slots and object layouts the agent needs to name a JavaScript frame, read once per binary from
 * its ELF file. Each is a 32-bit integer in the binary's data; one in .bss reads as 0. A binary without
 * the ones below (a build without post-mortem support) cannot be read: its frames stay native.
 */
export interface V8Constants {
  /** Slots below a frame's frame pointer: the JSFunction, and the context or a frame-type marker. */
  readonly fpFunction: number;
  readonly fpContext: number;
  readonly heapObjectTag: number;
  readonly heapObjectTagMask: number;
  /** Bits above which a Smi's value sits (31 + 1 on x86_64 without pointer compression). */
  readonly smiShift: number;
  readonly taggedSize: number;
  readonly mapOffset: number;
  readonly mapInstanceType: number;
  readonly jsFunctionShared: number;
  readonly sfiNameOrScopeInfo: number;
  readonly sfiScriptOrDebugInfo: number;
  readonly scriptName: number;
  readonly scriptSource: number;
  readonly scriptLineEnds: number;
  readonly fixedArrayLength: number;
  readonly fixedArrayData: number;
  readonly stringLength: number;
  readonly seqOneByteChars: number;
  readonly seqTwoByteChars: number;
  readonly consFirst: number;
  readonly consSecond: number;
  readonly thinActual: number;
  readonly slicedParent: number;
  readonly slicedOffset: number;
  readonly firstNonstringType: number;
  readonly isNotStringMask: number;
  readonly stringEncodingMask: number;
  readonly oneByteStringTag: number;
  readonly stringRepresentationMask: number;
  readonly seqStringTag: number;
  readonly consStringTag: number;
  readonly thinStringTag: number;
  readonly slicedStringTag: number;
  readonly typeSharedFunctionInfo: number;
  readonly typeScopeInfo: number;
  readonly typeScript: number;
  readonly typeFixedArray: number;
  /** ScopeInfo: the slot of its first variable-length field, and of the context-local count. */
  readonly scopeInfoFirstVars: number;
  readonly scopeInfoContextLocals: number;
}

/** Constant name (less the `v8dbg_` prefix) of each field; all are required. */
const NAMES: Record<keyof V8Constants, string> = {
  fpFunction: 'off_fp_function',
  fpContext: 'off_fp_context',
  heapObjectTag: 'HeapObjectTag',
  heapObjectTagMask: 'HeapObjectTagMask',
  smiShift: 'SmiShiftSize',
  taggedSize: 'TaggedSize',
  mapOffset: 'class_HeapObject__map__Map',
  mapInstanceType: 'class_Map__instance_type__uint16_t',
  jsFunctionShared: 'class_JSFunction__shared__SharedFunctionInfo',
  sfiNameOrScopeInfo: 'class_SharedFunctionInfo__name_or_scope_info__Object',
  sfiScriptOrDebugInfo: 'class_SharedFunctionInfo__script_or_debug_info__HeapObject',
  scriptName: 'class_Script__name__Object',
  scriptSource: 'class_Script__source__Object',
  scriptLineEnds: 'class_Script__line_ends__Object',
  fixedArrayLength: 'class_FixedArrayBase__length__SMI',
  fixedArrayData: 'class_FixedArray__data__uintptr_t',
  stringLength: 'class_String__length__int32_t',
  seqOneByteChars: 'class_SeqOneByteString__chars__char',
  seqTwoByteChars: 'class_SeqTwoByteString__chars__char',
  consFirst: 'class_ConsString__first__String',
  consSecond: 'class_ConsString__second__String',
  thinActual: 'class_ThinString__actual__String',
  slicedParent: 'class_SlicedString__parent__String',
  slicedOffset: 'class_SlicedString__offset__SMI',
  firstNonstringType: 'FirstNonstringType',
  isNotStringMask: 'IsNotStringMask',
  stringEncodingMask: 'StringEncodingMask',
  oneByteStringTag: 'OneByteStringTag',
  stringRepresentationMask: 'StringRepresentationMask',
  seqStringTag: 'SeqStringTag',
  consStringTag: 'ConsStringTag',
  thinStringTag: 'ThinStringTag',
  slicedStringTag: 'SlicedStringTag',
  typeSharedFunctionInfo: 'type_SharedFunctionInfo__SHARED_FUNCTION_INFO_TYPE',
  typeScopeInfo: 'type_ScopeInfo__SCOPE_INFO_TYPE',
  typeScript: 'type_Script__SCRIPT_TYPE',
  typeFixedArray: 'type_FixedArray__FIXED_ARRAY_TYPE',
  scopeInfoFirstVars: 'scopeinfo_idx_first_vars',
  scopeInfoContextLocals: 'scopeinfo_idx_ncontextlocals',
};

/** Where V8's embedded builtins lie in the binary (ELF addresses): the interpreter runs there. */
export interface V8Binary {
  readonly constants: V8Constants;
  readonly builtinsStart: number;
  readonly builtinsEnd: number;
}

const BLOB = 'v8_Default_embedded_blob_code_';
const BLOB_SIZE = 'v8_Default_embedded_blob_code_size_';

/** The constants and builtins of a binary; undefined when it lacks a constant (not V8, or stripped of them). */
export function readV8Binary(path: string): V8Binary | undefined {
  return withElf(path, (elf) => v8BinaryOf(elf));
}

export function v8BinaryOf(elf: ElfFile): V8Binary | undefined {
  // The v8dbg_ constants are exported (.dynsym) for debuggers.
  const syms = chunkedSymbols(elf, SHT_DYNSYM, Object.values(NAMES).map((n) => `v8dbg_${n}`));
  const out: Partial<Record<keyof V8Constants, number>> = {};
  for (const [field, name] of Object.entries(NAMES) as [keyof V8Constants, string][]) {
    const at = syms.get(`v8dbg_${name}`);
    if (at === undefined) return undefined;
    // A constant whose value is 0 may sit in .bss, which the file does not hold.
    out[field] = elf.readAtVaddr(at, 4)?.readInt32LE(0) ?? 0;
  }
  const constants = out as V8Constants;
  // The walker reads the function and the context as one pair of words (bpf/unwind.h v8_frame), and
  // the reader assumes 64-bit tagged values without pointer compression.
  if (constants.fpContext !== constants.fpFunction + 8 || constants.taggedSize !== 8 || constants.heapObjectTag !== 1) return undefined;
  // V8's embedded builtins are local symbols: .symtab only.
  const blob = chunkedSymbols(elf, SHT_SYMTAB, [BLOB, BLOB_SIZE]);
  const start = blob.get(BLOB);
  const size = blob.get(BLOB_SIZE);
  const length = size !== undefined ? (elf.readAtVaddr(size, 4)?.readUInt32LE(0) ?? 0) : 0;
  return { constants, builtinsStart: start !== undefined && length > 0 ? start : 0, builtinsEnd: start !== undefined && length > 0 ? start + length : 0 };
}

/** Bytes of a section read at a time by chunkedSymbols (a multiple of a symbol's 24 bytes). */
const CHUNK = 24 * 16384;

/**
 * Values of named symbols of the symbol table of `type` (.dynsym or .symtab), read a chunk at a time:
 * its string table is searched for the names, then its symbols for those name offsets. Node's tables
 * are large (.dynsym and its names 7 MiB, .symtab 10 MiB) and the agent's memory goal tight: whole, they
 * cost the agent 20 MiB of RSS for a moment (ElfFile.namedSymbols); by chunks, 0.4 MiB.
 */
function chunkedSymbols(elf: ElfFile, type: number, names: readonly string[]): Map<string, number> {
  const out = new Map<string, number>();
  const symtab = elf.sections.find((s) => s.type === type && s.entsize === 24);
  const strtab = symtab && elf.sections[symtab.link];
  if (!symtab || !strtab) return out;
  const fd = openSync(elf.path, 'r');
  try {
    const chunk = Buffer.alloc(CHUNK);
    const read = (offset: number, length: number) => readSync(fd, chunk, 0, Math.min(length, CHUNK), offset);
    // Name offsets: one pass over the string table for the names' common prefix (NUL before it, so only
    // whole names match), each hit's whole name then looked up — not one search of the chunk per name
    // (≈ 60 for node's v8dbg_ constants: 90 ms of CPU per node build, against ≈ 10 ms for one pass).
    const wanted = new Set(names);
    const firstAt = new Map<string, number>();
    const prefix = Buffer.from(`\0${commonPrefix(names)}`, 'latin1');
    const longest = Math.max(...names.map((n) => n.length)) + 2;
    for (let at = 0; at < strtab.size && firstAt.size < wanted.size; at += CHUNK - longest) {
      const n = read(strtab.offset + at, strtab.size - at);
      const text = chunk.subarray(0, n);
      for (let i = text.indexOf(prefix); i >= 0; i = text.indexOf(prefix, i + 1)) {
        const end = text.indexOf(0, i + 1);
        // A name cut by the chunk's end is seen whole in the next chunk, which overlaps this one by `longest`.
        if (end < 0 || end - i - 1 > longest) continue;
        const name = text.toString('latin1', i + 1, end);
        if (wanted.has(name) && !firstAt.has(name)) firstAt.set(name, at + i + 1);
      }
      if (n < CHUNK) break;
    }
    const offsets = new Map<number, string>();
    for (const [name, at] of firstAt) offsets.set(at, name);
    for (let at = 0; at < symtab.size && out.size < offsets.size; at += CHUNK) {
      const n = read(symtab.offset + at, symtab.size - at);
      for (let o = 0; o + 24 <= n; o += 24) {
        const name = offsets.get(chunk.readUInt32LE(o));
        if (name !== undefined && chunk.readUInt16LE(o + 6) !== 0) out.set(name, chunk.readUInt32LE(o + 8) + chunk.readUInt32LE(o + 12) * 2 ** 32);
      }
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

/** The longest prefix all of `names` share ('' when they share none). */
function commonPrefix(names: readonly string[]): string {
  let prefix = names[0] ?? '';
  for (const n of names) while (!n.startsWith(prefix)) prefix = prefix.slice(0, -1);
  return prefix;
}
