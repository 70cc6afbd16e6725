/**
 * What kind of code a frame is, and which package/binary it belongs to, read from its name.
 * Kiln and perf mark kernel frames `_[k]` and JIT frames `_[j]` (stackcollapse-perf's convention);
 * V8/Node perf maps prefix JIT code with `JS:`, `LazyCompile:` etc.; Go, Java, C++ and Rust names carry
 * their package in the qualified name.
 */
export type FrameKind = 'kernel' | 'jit' | 'user' | 'root';

const JIT_PREFIX = /^(JS:|LazyCompile:|Function:|Builtin:|BytecodeHandler:|Interpreter:|Script:|py::|\[jit\])/;
const KERNEL_HINT = /(^\[kernel|\[kernel\.kallsyms\]|^(__x64_sys_|__arm64_sys_|entry_SYSCALL|do_syscall_64|asm_|irq_|__do_softirq|ret_from_fork|native_|x64_sys_call))/;

export function frameKind(name: string, depth: number): FrameKind {
  if (depth === 0) return 'root';
  if (name.endsWith('_[k]') || KERNEL_HINT.test(name)) return 'kernel';
  if (name.endsWith('_[j]') || JIT_PREFIX.test(name)) return 'jit';
  return 'user';
}

/** The package or binary a frame belongs to: the key of its colour. */
export function packageOf(name: string): string {
  let n = name.replace(/_\[[kj]\]$/, '').replace(JIT_PREFIX, '');
  n = n.replace(/^[*~]/, ''); // V8 marks optimised (*) and interpreted (~) functions
  const bin = /^(.+?)(?:!|`)/.exec(n) ?? /\s\[([^\]]+)\]$/.exec(n) ?? /\s\(([^)]+)\)$/.exec(n);
  if (bin) return bin[1];
  if (n.includes('::')) return n.split('::').slice(0, -1).slice(0, 2).join('::') || n;
  const slash = n.lastIndexOf('/');
  const tail = slash >= 0 ? n.slice(slash + 1) : n;
  const dot = tail.indexOf('.');
  if (dot > 0) return (slash >= 0 ? n.slice(0, slash + 1) : '') + tail.slice(0, dot);
  return slash >= 0 ? n.slice(0, slash) : n;
}
