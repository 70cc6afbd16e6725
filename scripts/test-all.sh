#!/usr/bin/env bash
# The README's test command: installs everything the tests need (Debian packages, npm packages),
# builds Kiln, then runs every test. Needs root: the agent tests load real eBPF programs.
set -euo pipefail
cd "$(dirname "$0")/.."
# clang + llvm: the agent tests compile C workloads and rebuild the BPF object to compare it; binutils:
# readelf -wF is the reference the unwind-table test checks Kiln's .eh_frame rows against; python3: Debian's
# interpreter (no frame pointers) is the CPython frames proof's workload;
# bpftool + util-linux (setpriv): they check programs detach and that capabilities are named;
# chromium: the UI tests drive a real browser; clickhouse-server + zookeeper: the ClickHouse engine and cluster tests;
# prometheus-alertmanager: its stripped Go binary (amtool) is what the Go symbolization test reads;
# linux-perf: kiln compare's proof samples a real C workload with perf record (test/cli/compare.test.ts);
# /usr/bin/perf comes from a Debian package diversion by linux-perf (the old wrapper moves to
# /usr/bin/perf.wrapper), so installing linux-perf is what puts /usr/bin/perf on the machine.
KILN_APT_PACKAGES="clang llvm binutils python3 linux-perf libbpf-dev bpftool gcc util-linux chromium clickhouse-server zookeeper prometheus prometheus-alertmanager openjdk-17-jdk-headless" bash scripts/setup.sh
# Tests and benches are type-checked first (tsconfig.json checks src/ only): a type error fails the run.
printf '\n==> type-checking tests and benches (tsconfig.test.json)\n'
npx tsc -p tsconfig.test.json
printf '\n==> running tests\n'
npx vitest run "$@"
