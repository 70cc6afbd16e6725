#!/usr/bin/env bash
# The README's test command: installs everything the tests need (Debian packages, npm packages),
# builds Kiln, then runs every test. Needs root: the agent tests load real eBPF programs.
set -euo pipefail
cd "$(dirname "$0")/.."
# clang + libbpf-dev: the agent tests compile C workloads and check the committed BPF object;
# chromium: the UI tests drive a real browser.
KILN_APT_PACKAGES="clang llvm libbpf-dev gcc chromium" bash scripts/setup.sh
printf '\n==> running tests\n'
npx vitest run "$@"
