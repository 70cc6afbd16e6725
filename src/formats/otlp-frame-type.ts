/**
 * OTLP marks each location with `profile.frame.type` (kernel, native, go, python, v8js, hotspot, …).
 * Kiln's model has no field for it and the store keys mappings by binary and build id, so the type
 * travels in the mapping's binary name, which every view already shows:
 *
 * - native (or no type): the mapping's file name as it is, e.g. `libc.so.6`;
 * - any other type: `[type] file` or `[type]` when the location has no file, e.g.
 *   `[kernel] vmlinux`, `[kernel] iwlwifi`, `[python]`, `[go] containerd` — the bracket prefix is
 *   the one Pyroscope gives kernel frames;
 * - a file name that is already bracketed for the kernel (`[kernel.kallsyms]`, the perf spelling
 *   Kiln's agent uses) stays as it is.
 *
 * The encoder reverses this, so decode(encode(x)) gives back the same binary names.
 */

export const FRAME_TYPE_ATTRIBUTE = 'profile.frame.type';
export const NATIVE = 'native';
export const KERNEL = 'kernel';

const TYPE = /^[a-z0-9_.\-]{1,32}$/;
const PREFIXED = /^\[([a-z0-9_.\-]{1,32})\](?: (.*))?$/s;

/** The binary name a decoded location's mapping gets. */
export function binaryFor(frameType: string, fileName: string): string {
  const t = frameType.toLowerCase();
  if (t === '' || t === NATIVE || !TYPE.test(t)) return fileName;
  if (t === KERNEL && fileName.startsWith('[kernel')) return fileName;
  return fileName === '' ? `[${t}]` : `[${t}] ${fileName}`;
}

/** The frame type and file name an encoder writes for a Kiln mapping's binary name. */
export function frameTypeOf(binary: string): { frameType: string; fileName: string } {
  if (binary.startsWith('[kernel.') || binary === '[kernel]') {
    return binary === '[kernel]' ? { frameType: KERNEL, fileName: '' } : { frameType: KERNEL, fileName: binary };
  }
  const m = PREFIXED.exec(binary);
  // `[vdso]`, `[heap]` and friends are user-space pseudo-files with no space-separated tail; a
  // bracketed word alone is a frame type only for the kinds the decoder produces without a file.
  if (m && (m[2] !== undefined || KNOWN_FILELESS.has(m[1]!))) return { frameType: m[1]!, fileName: m[2] ?? '' };
  return { frameType: NATIVE, fileName: binary };
}

/** Frame types that arrive without a mapping file (interpreted or JIT runtimes, the kernel). */
const KNOWN_FILELESS: ReadonlySet<string> = new Set([
  'kernel', 'python', 'cpython', 'php', 'phpjit', 'ruby', 'perl', 'v8js', 'hotspot', 'jvm', 'dotnet',
  'beam', 'go', 'luajit', 'rust', 'abort',
]);
