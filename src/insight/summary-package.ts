/**
 * The package a function belongs to, read from its name, for the summary's "share by package": Go's
 * `github.com/acme/pay.(*Invoice).Total` → `github.com/acme/pay`, C++/Rust `std::vector<int>::push_back`
 * → `std::vector<int>`, .NET `App.Web!Controller.Get` → `App.Web`, a kernel frame (`_[k]`) → `kernel`;
 * otherwise the text before the first dot of the last path segment (`runtime.mallocgc` → `runtime`), the
 * rule the UI colours frames by. A bare C name is its own package: the binary says more about those.
 */
export function packageOf(name: string): string {
  const n = name.replace(/_\[[kj]\]$/, '').replace(/^(JS:|LazyCompile:|Function:|Builtin:|Script:)\s*[*~^]?/, '');
  if (name.endsWith('_[k]')) return 'kernel';
  const bang = /^(.+?)[!`]/.exec(n);
  if (bang) return bang[1]!;
  if (n.includes('::')) return n.split('::').slice(0, -1).slice(0, 2).join('::') || n;
  const slash = n.lastIndexOf('/');
  const tail = slash >= 0 ? n.slice(slash + 1) : n;
  const dot = tail.indexOf('.');
  if (dot > 0) return (slash >= 0 ? n.slice(0, slash + 1) : '') + tail.slice(0, dot);
  return slash >= 0 ? n.slice(0, slash) : n;
}
