import koffi from 'koffi';

/**
 * The C library functions the agent calls for itself, bound once per process: malloc's controls
 * (malloc-tuning.ts), C heap blocks for working memory (symbolize/working-memory.ts), the calling
 * thread's CPU clock (process-cpu.ts) and ioctl(2) (symbolize/procmap-query.ts). libbpf.ts binds its own (the perf_event_open syscall) beside libbpf.
 */

/** A block of C heap memory (koffi's pointer value). */
export type NativePointer = unknown;

export interface Glibc {
  mallopt(param: number, value: number): number;
  malloc(size: number): NativePointer;
  free(block: NativePointer): void;
  /** clock_gettime(2): writes a struct timespec into `out`; 0 on success. */
  clockGettime(clockId: number, out: Buffer): number;
  /** ioctl(2) with one pointer argument (variadic in C; one pointer passes the same way on the ABIs the agent runs on). */
  ioctl(fd: number, request: number, arg: NativePointer): number;
}

let glibc: Glibc | null | undefined;

/** The binding, or null where libc is not glibc (musl has no malloc controls) or cannot be loaded. */
export function loadGlibc(): Glibc | null {
  if (glibc !== undefined) return glibc;
  try {
    const libc = koffi.load('libc.so.6');
    glibc = {
      mallopt: libc.func('int mallopt(int param, int value)') as Glibc['mallopt'],
      malloc: libc.func('void *malloc(size_t size)') as Glibc['malloc'],
      free: libc.func('void free(void *ptr)') as Glibc['free'],
      clockGettime: libc.func('int clock_gettime(int clk_id, _Out_ void *tp)') as Glibc['clockGettime'],
      ioctl: libc.func('int ioctl(int fd, unsigned long request, void *arg)') as Glibc['ioctl'],
    };
  } catch {
    glibc = null;
  }
  return glibc;
}
