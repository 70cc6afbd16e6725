import { withElf, type ElfFile } from '../symbolize/elf.js';

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
  const wanted = new Set([...Object.values(NAMES).map((n) => `v8dbg_${n}`), BLOB, BLOB_SIZE]);
  const syms = elf.namedSymbols(wanted);
  const out: Partial<Record<keyof V8Constants, number>> = {};
  for (const [field, name] of Object.entries(NAMES) as [keyof V8Constants, string][]) {
    const s = syms.get(`v8dbg_${name}`);
    if (!s) return undefined;
    // A constant whose value is 0 may sit in .bss, which the file does not hold.
    out[field] = elf.readAtVaddr(s.value, 4)?.readInt32LE(0) ?? 0;
  }
  const constants = out as V8Constants;
  // The walker reads the function and the context as one pair of words (bpf/unwind.h v8_frame), and
  // the reader assumes 64-bit tagged values without pointer compression.
  if (constants.fpContext !== constants.fpFunction + 8 || constants.taggedSize !== 8 || constants.heapObjectTag !== 1) return undefined;
  const blob = syms.get(BLOB);
  const size = syms.get(BLOB_SIZE);
  const length = size ? (elf.readAtVaddr(size.value, 4)?.readUInt32LE(0) ?? 0) : 0;
  return { constants, builtinsStart: blob && length > 0 ? blob.value : 0, builtinsEnd: blob && length > 0 ? blob.value + length : 0 };
}
