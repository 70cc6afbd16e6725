/**
 * What kind of code a frame is, and which package/binary it belongs to, read from its name.
 * Kiln and perf mark kernel frames `_[k]` and JIT frames `_[j]` (stackcollapse-perf's convention);
 * V8/Node perf maps prefix JIT code with `JS:`, `LazyCompile:` etc.; Go, Java, C++ and Rust names carry
 * their package in the qualified name.
 */
export type FrameKind = 'kernel' | 'jit' | 'user' | 'root';

const JIT_PREFIX = /^(JS:|LazyCompile:|Function:|Builtin:|BytecodeHandler:|Interpreter:|Script:|py::|\[jit\])/;
const KERNEL_MARK = /^\[kernel|\[kernel\.kallsyms\]/;
// Querier flame graphs carry names only, no binary: a bare C identifier with a prefix only the Linux kernel
// uses is taken as kernel code. Qualified names (a.b, a::b, a/b) are never kernel symbols.
const KERNEL_PREFIX =
  /^(__x64_sys_|__arm64_sys_|__do_sys_|__sys_|ksys_|do_syscall_|entry_SYSCALL|syscall_exit_|exit_to_user_mode|asm_(exc|sysvec|common)_|exc_page_fault|handle_mm_fault|__handle_mm_fault|irq_|__irq_|__do_softirq|__softirqentry|net_rx_action|__netif_|tcp_|udp_|ip_|__ip_|ipv6_|sock_|__sock_|vfs_|ext4_|xfs_|btrfs_|__schedule|schedule$|schedule_|finish_task_switch|ret_from_fork|native_|_raw_spin_|__raw_spin_|x64_sys_call|cpuidle_|intel_idle|do_idle|default_idle|secondary_startup|start_kernel|copy_user_|clear_page_|__alloc_pages|get_page_from_freelist|futex_|do_futex|__futex|epoll_|ep_poll|do_epoll|hrtimer_|__hrtimer|perf_event_|bpf_prog_|__bpf_)/;
const C_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_.]*$/;

export function frameKind(name: string, depth: number): FrameKind {
  if (depth === 0) return 'root';
  if (name.endsWith('_[k]') || KERNEL_MARK.test(name)) return 'kernel';
  if (C_IDENTIFIER.test(name) && !name.includes('.') && KERNEL_PREFIX.test(name)) return 'kernel';
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

/** `text` as a regex matching itself literally, in the syntax JavaScript and RE2 share. */
export function escapeRegex(text: string): string {
  return text.replace(/[\\^$.|?*+()[\]{}]/g, '\\$&');
}

// The JIT prefix and V8 mark packageOf strips, and the kernel/JIT suffix, as regex source.
const PREFIX_SOURCE = `(?:${JIT_PREFIX.source.slice(2, -1)})?[*~]?`;
const SUFFIX_SOURCE = '(?:_\\[[kj]\\])?$';
// Text without `!` or a backtick (they make the binary branch win) and without `::` (the C++/Rust
// branch); `also` lists further excluded characters. Single colons stay allowed (`a:b`).
const plainText = (also = '') => `[^!\`:${also}]*(?::[^!\`:${also}]+)*:?`;

/**
 * The branches of a regex matching exactly the names whose packageOf is `pkg`, each following one rule of
 * packageOf; the caller anchors them after PREFIX_SOURCE. A package the rules cannot produce gets no branch.
 * Left out, as rare in real symbol names: a name ending in ` [x]` or ` (x)` inside the `::` and dotted
 * rules (packageOf reads those as a binary), and colons inside a package name. Checked against every
 * function name of the test corpus (test/ui/model.test.ts).
 */
function packageBranches(pkg: string): string[] {
  // packageOf splits at the first `!` or backtick after the first character: past it, a package has none.
  if (pkg === '' || /[!`]/.test(pkg.slice(1))) return [];
  const p = escapeRegex(pkg);
  const out = [`${p}[!\`]`]; // `binary!function` (Windows/WinDbg) and `binary\`function` (DTrace)
  const plain = !/[!`]/.test(pkg);
  if (plain && !pkg.includes(']')) out.push(`[^!\`]*\\s\\[${p}\\]${SUFFIX_SOURCE}`); // `function [binary]` (perf)
  if (plain && !pkg.includes(')')) out.push(`[^!\`]*\\s\\(${p}\\)${SUFFIX_SOURCE}`); // `function (binary)`
  const colons = pkg.split('::').length - 1;
  // packageOf splits at the first `::`, so a package ending in `:` never comes from this rule (Java's
  // `java/lang/Thread:::run` is package java/lang/Thread).
  const splitsHere = !pkg.endsWith(':');
  if (colons === 1 && splitsHere) out.push(`${p}::[^!\`]*$`); // a::b::c… → a::b
  if (colons === 1 && pkg.startsWith('::')) out.push(`${p}${SUFFIX_SOURCE}`); // ::name (global namespace) is its own package
  if (colons === 0 && splitsHere) out.push(`${p}::${plainText()}$`); // a::b → a
  if (colons > 0) return out;
  const slash = pkg.lastIndexOf('/');
  const last = pkg.slice(slash + 1);
  if (last !== '' && !last.includes('.')) out.push(`${p}\\.${plainText('/')}$`); // dir/pkg.func → dir/pkg
  out.push(`${p}/(?:\\.${plainText('/')}|${plainText('/.')})$`); // dir/name without a dot → dir
  if (slash < 0 && pkg.indexOf('.') <= 0) out.push(`${p}${SUFFIX_SOURCE}`); // a bare name is its own package
  return out;
}

/**
 * A regex (JavaScript and RE2 alike) matching the function names whose packageOf is `pkg`, so "hide
 * package X" can be asked of the server, which sees every stack, not only the frames the page drew.
 * Empty when no name can have that package.
 */
export function packagePattern(pkg: string): string {
  const branches = packageBranches(pkg);
  return branches.length ? `^${PREFIX_SOURCE}(?:${branches.join('|')})` : '';
}
