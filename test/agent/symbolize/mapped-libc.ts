import { readFileSync } from 'node:fs';

/** The C library this test process maps (glibc's libc.so.6): a real, large binary every test host has. */
export function mappedLibc(): string {
  const found = /\s(\/\S*\/libc\.so\.6)$/m.exec(readFileSync('/proc/self/maps', 'utf8'))?.[1];
  if (!found) throw new Error('this test needs the libc the test process maps (glibc)');
  return found;
}
