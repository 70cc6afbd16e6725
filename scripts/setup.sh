#!/usr/bin/env bash
# Installs everything Kiln needs on a fresh Debian/Ubuntu machine, then builds it.
#   KILN_APT_PACKAGES  extra Debian packages to install (the test command adds the test-only ones)
# Safe to re-run: packages already present are skipped, npm ci only runs when the lock changed.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

# libbpf1: the agent loads its eBPF program through libbpf (no compiler needed at run time).
packages="libbpf1 ${KILN_APT_PACKAGES:-}"
missing=()
for p in $packages; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  step "installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then sudo=sudo; else sudo=; fi
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  step "installing npm packages (npm ci)"
  npm ci --no-audit --no-fund
fi

step "building (protobuf code, TypeScript, web UI)"
npm run build --silent
