import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';

/**
 * A small C program for symbolization tests: it prints the runtime addresses of its own functions (a
 * global, a static one, main) and of a libc function, then waits for stdin to close. The test then
 * knows exactly which name each address must resolve to.
 */
const SOURCE = `
#include <dlfcn.h>
#include <stdio.h>
#include <unistd.h>
volatile unsigned long sink;
__attribute__((noinline)) void burn_a(void) { for (int i = 0; i < 1000; i++) sink += i; }
__attribute__((noinline)) static void burn_b(void) { for (int i = 0; i < 3000; i++) sink += i * 3; }
int main(void) {
  burn_a(); burn_b();
  /* glibc registers the vdso as a loaded object: its symbols are reachable like a library's. */
  void *vdso = dlopen("linux-vdso.so.1", RTLD_LAZY | RTLD_NOLOAD);
  void *vdso_clock = vdso ? dlsym(vdso, "__vdso_clock_gettime") : 0;
  printf("burn_a %p\\nburn_b %p\\nmain %p\\ngetpid %p\\nvdso_clock_gettime %p\\nready\\n", (void *)burn_a, (void *)burn_b, (void *)main, (void *)getpid, vdso_clock);
  fflush(stdout);
  char buf[16];
  while (read(0, buf, sizeof buf) > 0) {}
  return 0;
}
`;

export function compiler(): string {
  for (const cc of ['clang', 'gcc']) {
    try {
      execFileSync(cc, ['--version'], { stdio: 'ignore' });
      return cc;
    } catch {
      // try the next one
    }
  }
  throw new Error('symbolization tests need a C compiler: install clang or gcc (Debian: apt-get install clang)');
}

/** Compiles the program with symbols and frame pointers into `dir`; returns the binary's path. */
export function buildProgram(dir: string, name = 'burner'): string {
  const src = path.join(dir, `${name}.c`);
  const out = path.join(dir, name);
  writeFileSync(src, SOURCE);
  execFileSync(compiler(), ['-g', '-O1', '-fno-omit-frame-pointer', '-Wl,--build-id', '-o', out, src]);
  return out;
}

export interface RunningProgram {
  readonly pid: number;
  /** Runtime addresses by name: burn_a, burn_b, main, getpid, vdso_clock_gettime (when the vdso has it). */
  readonly addr: Readonly<Record<string, bigint>>;
  /** Closes stdin and waits for the process to exit. */
  stop(): Promise<void>;
}

export async function startProgram(binary: string): Promise<RunningProgram> {
  const child: ChildProcess = spawn(binary, [], { stdio: ['pipe', 'pipe', 'inherit'] });
  const addr: Record<string, bigint> = {};
  const lines = createInterface({ input: child.stdout! });
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`${binary} exited early (${code})`)));
    lines.on('line', (line) => {
      const [k, v] = line.split(' ');
      if (k === 'ready') resolve();
      else if (k && v?.startsWith('0x')) addr[k] = BigInt(v);
    });
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    pid: child.pid!,
    addr,
    stop: async () => {
      child.stdin!.end();
      await exited;
    },
  };
}

/** File offset of a runtime address, computed from /proc/PID/maps by the test itself. */
export function fileOffsetOf(mapsText: string, address: bigint): bigint {
  for (const line of mapsText.split('\n')) {
    const [range, , offset] = line.split(/\s+/);
    if (!range || !offset) continue;
    const [lo, hi] = range.split('-').map((x) => BigInt(`0x${x}`));
    if (address >= lo! && address < hi!) return address - lo! + BigInt(`0x${offset}`);
  }
  throw new Error(`address 0x${address.toString(16)} is in no mapping`);
}
