import { spawnSync } from 'node:child_process';
import { libbpf } from '../../src/agent/bpf/libbpf.js';
import { missingCapabilities } from '../../src/agent/loader.js';

/**
 * Proof tests need the real thing: root (or CAP_BPF + CAP_PERFMON) and libbpf.so.1. They fail —
 * never skip — with a message saying what is missing, so a CI box without them is noticed.
 */
export function requireBpf(): void {
  const missing = missingCapabilities();
  if (missing.length > 0) {
    throw new Error(`this test runs the real eBPF agent and needs root or ${missing.join(' + ')}: run the agent tests with sudo (CI runs them as root)`);
  }
  libbpf(); // throws "install libbpf1" when the library is missing
}

/** A command a test runs (compiler, perf, bpftrace); fails with the package to install. */
export function requireCommand(name: string, pkg: string): void {
  if (spawnSync('sh', ['-c', `command -v ${name}`]).status !== 0) throw new Error(`this test needs \`${name}\` on PATH: apt-get install ${pkg}`);
}
