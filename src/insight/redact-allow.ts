/**
 * Names that say nothing about whose code this is — language runtimes, standard libraries, the C
 * library, the kernel, a few ubiquitous open-source libraries — and may go to an LLM as they are.
 * Everything else is pseudonymized in allow-list mode (redact.ts).
 *
 * An entry ending in `*` is a prefix; any other entry must equal the whole name. Exact by default,
 * because a short prefix leaks: `read` as a prefix would let `readCustomerLedger` through, `Py` would let
 * `PyramidPricing` through. Prefixes end at a separator (`runtime.`, `std::`, `__libc_`), so one cannot
 * match inside a company's own name (`runtime.` is not `acme/runtime.`).
 */
export const DEFAULT_FUNCTION_ALLOW: readonly string[] = [
  // Go runtime and standard library (the common packages; the rest are pseudonymized, which is safe)
  'runtime.*', 'runtime/*', 'internal/*', 'sync.*', 'sync/*', 'syscall.*', 'reflect.*', 'strings.*', 'strconv.*', 'bytes.*',
  'bufio.*', 'fmt.*', 'io.*', 'io/*', 'os.*', 'os/*', 'net.*', 'net/*', 'encoding/*', 'compress/*', 'crypto/*', 'math.*', 'math/*',
  'sort.*', 'slices.*', 'maps.*', 'time.*', 'unicode.*', 'unicode/*', 'regexp.*', 'regexp/*', 'context.*', 'errors.*', 'hash/*',
  'container/*', 'log.*', 'log/*', 'path.*', 'path/*', 'mime/*', 'html/*', 'text/*', 'archive/*', 'database/*', 'debug/*', 'image/*',
  // ubiquitous Go modules
  'google.golang.org/grpc*', 'google.golang.org/protobuf/*', 'github.com/golang/protobuf/*', 'golang.org/x/*',
  // C and C++ runtimes, the dynamic loader
  '__libc_*', '_start', '__GI_*', '__memcpy*', '__memmove*', '__memset*', '__memcmp*', '__strlen*', '__strcmp*', '__strchr*',
  'memcpy', 'memmove', 'memset', 'memcmp', 'strlen', 'strcmp', 'malloc', 'calloc', 'realloc', 'free', 'cfree', '_int_malloc',
  '_int_free', 'pthread_*', '__pthread_*', 'start_thread', 'clone', 'clone3', '__clone*', '_dl_*', '__cxa_*', '__gnu_cxx::*', 'std::*',
  'operator new*', 'operator delete*', '_IO_*', 'epoll_wait', 'syscall', 'read', 'write', '__read', '__write', 'poll', '__poll',
  // JVM, .NET, Node/V8, CPython, Ruby's C core
  'java.*', 'javax.*', 'jdk.*', 'sun.*', 'com.sun.*', 'kotlin.*', 'kotlinx.*', 'scala.*', 'JVM_*', 'Interpreter', 'StubRoutines::*',
  'System.*', 'Microsoft.*', 'node::*', 'v8::*', 'Builtins_*', 'Builtin:*', 'uv_*', 'uv__*', '(garbage collector)', '(program)',
  '(idle)', '(root)', '_Py*', 'Py_*', 'PyEval_*', 'PyObject_*', 'rb_*',
  // unknown frames and the tree's own nodes (kernel frames are allowed by their `_[k]` mark, see redact.ts)
  '[kernel.kallsyms]*', '[unknown]', '[unresolved stack]', 'other', 'total', '(unknown binary)', 'kernel',
];

/** Binaries, by base name (the directory could name a customer or a user). */
export const DEFAULT_BINARY_ALLOW: readonly string[] = [
  'libc.so*', 'libc-*', 'libm.so*', 'libm-*', 'libpthread*', 'ld-linux*', 'libstdc++*', 'libgcc_s*', 'libdl*', 'librt*', 'libz.so*',
  'libssl*', 'libcrypto*', 'libjvm.so', 'libpython*', 'libruby*', 'libcoreclr.so', 'libclrjit.so', 'node', 'python3*', 'java', 'ruby',
  'dotnet', '[kernel.kallsyms]', '[vdso]', '[vsyscall]', '[unknown]', 'vmlinux*', 'jit', '(unknown binary)',
];

/** Source files: the Go tree, system headers and glibc's sources, Node's built-in modules. */
export const DEFAULT_FILE_ALLOW: readonly string[] = [
  '/usr/local/go/src/*', '/usr/lib/go/*', '/usr/include/*', '/usr/src/debug/glibc*', '../sysdeps/*', '../csu/*', '../nptl/*',
  'node:*', '<built-in>',
];

/** Does `name` equal an exact entry or start with a `prefix*` entry? */
export function allowed(name: string, entries: readonly string[]): boolean {
  for (const e of entries) {
    if (e.endsWith('*') ? name.startsWith(e.slice(0, -1)) : name === e) return true;
  }
  return false;
}
