import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as glue from 'gecko-profiler-demangle/index_bg.js';
import { LruCache } from '../lru.js';

/**
 * C++ (Itanium) and Rust symbol demangling through the Firefox profiler's demangler (Rust's
 * cpp_demangle + rustc-demangle compiled to WebAssembly). The package targets bundlers, so it is
 * instantiated here by hand; loading is deferred to the first mangled name, and a failure to load
 * leaves names mangled rather than breaking symbolization.
 */
let demangler: ((name: string) => string) | null | undefined;

function load(): ((name: string) => string) | null {
  try {
    const wasmPath = createRequire(import.meta.url).resolve('gecko-profiler-demangle/index_bg.wasm');
    const instance = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(wasmPath)), { './index_bg.js': glue as unknown as WebAssembly.ModuleImports });
    glue.__wbg_set_wasm(instance.exports);
    (instance.exports.__wbindgen_start as () => void)();
    return glue.demangle_any;
  } catch {
    return null;
  }
}

// Distinct mangled names seen in profiles are few; caching them makes each one cost one WASM call.
const cache = new LruCache<string, string>(50_000);

/** Readable form of a mangled C++/Rust name; other names come back unchanged. */
export function demangle(name: string): string {
  // Itanium C++ and Rust legacy start `_Z` (`__Z` on some platforms), Rust v0 `_R`.
  if (!(name.startsWith('_Z') || name.startsWith('__Z') || name.startsWith('_R'))) return name;
  const hit = cache.get(name);
  if (hit !== undefined) return hit;
  if (demangler === undefined) demangler = load();
  let out = name;
  if (demangler) {
    try {
      out = demangler(name);
      // On input it cannot parse, demangle_any may hand back the name minus its underscore.
      if (out === name.slice(1)) out = name;
    } catch {
      // A name the demangler rejects stays as it is.
    }
  }
  cache.set(name, out);
  return out;
}
