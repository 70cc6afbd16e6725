#!/bin/sh
# Rebuilds the committed BPF object from its source: `npm run build:bpf [-- OUT.o]`.
# KILN_BPF_CFLAGS adds compiler flags for a debug build, e.g. -DKILN_PHASES (phases.h); the committed object
# is built without. Reproducible on purpose (CI rebuilds and compares): no system headers (-nostdinc), debug paths made
# relative, DWARF stripped after BTF is generated (libbpf needs .BTF for the maps, not the DWARF).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out="${1:-$here/profile.bpf.o}"
case "$out" in /*) ;; *) out="${INIT_CWD:-$PWD}/$out" ;; esac
command -v clang >/dev/null || { echo "build:bpf needs clang (Debian: apt-get install clang llvm)" >&2; exit 1; }
# Debian installs llvm-strip with a version suffix (llvm-strip-14); take any on PATH.
strip=$(command -v llvm-strip || true)
if [ -z "$strip" ]; then
  for d in $(echo "$PATH" | tr ':' ' '); do
    for f in "$d"/llvm-strip-*; do [ -x "$f" ] && strip="$f" && break 2; done
  done
fi
[ -n "$strip" ] || { echo "build:bpf needs llvm-strip (Debian: apt-get install llvm)" >&2; exit 1; }
tmp="$out.tmp.$$"
cd "$here"
clang -O2 -g -target bpf -nostdinc -fdebug-compilation-dir=. -fdebug-prefix-map="$here"=. \
  -Wall -Werror ${KILN_BPF_CFLAGS:-} -c profile.bpf.c -o "$tmp"
"$strip" -g "$tmp"
mv "$tmp" "$out"
