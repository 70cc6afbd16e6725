import koffi from 'koffi';
import type { LibraryHandle } from 'koffi';

/**
 * The few libbpf (libbpf.so.1, Debian/Ubuntu package `libbpf1`) and libc entry points the agent uses,
 * bound through koffi so users need no compiler and no node-gyp build.
 * Opaque libbpf objects come back from koffi as bigint addresses; 0n / null is libbpf's failure value
 * (libbpf ≥ 1.0 reports the cause in errno, read with `errno()`).
 */
export type Ptr = bigint;

export interface Libbpf {
  objectOpenFile(path: string): Ptr | null;
  objectLoad(obj: Ptr): number;
  objectClose(obj: Ptr): void;
  findProgram(obj: Ptr, name: string): Ptr | null;
  findMap(obj: Ptr, name: string): Ptr | null;
  mapFd(map: Ptr): number;
  mapSetMaxEntries(map: Ptr, n: number): number;
  attachPerfEvent(prog: Ptr, perfFd: number): Ptr | null;
  /** Attaches by the program's section (tp_btf/…): null on failure (cause in errno). */
  attach(prog: Ptr): Ptr | null;
  /** Whether `bpf_object__load` loads this program (set before load; unloaded programs cost nothing). */
  setAutoload(prog: Ptr, load: boolean): number;
  linkDestroy(link: Ptr): number;
  /** Returns 0 or a negative errno; -ENOENT means "read everything" (success, see DESIGN.md). */
  mapLookupAndDeleteBatch(fd: number, inBatch: Buffer | null, outBatch: Buffer, keys: Buffer, values: Buffer, count: Buffer): number;
  mapLookupBatch(fd: number, inBatch: Buffer | null, outBatch: Buffer, keys: Buffer, values: Buffer, count: Buffer): number;
  mapLookupElem(fd: number, key: Buffer, value: Buffer): number;
  mapUpdateElem(fd: number, key: Buffer, value: Buffer, flags: number): number;
  /** Writes `count` key/value pairs in one syscall; 0 or a negative errno. */
  mapUpdateBatch(fd: number, keys: Buffer, values: Buffer, count: Buffer): number;
  mapDeleteElem(fd: number, key: Buffer): number;
  mapGetNextKey(fd: number, key: Buffer | null, next: Buffer): number;
  /**
   * Maps `length` bytes of an mmap-able BPF array read-write, from byte `offset` (a multiple of the
   * page size); undefined when it cannot. The Buffer is invalid once unmapped.
   */
  mmapMap(fd: number, length: number, offset?: number): { readonly bytes: Buffer; unmap(): void } | undefined;
  /** The page size (mmap offsets are multiples of it). */
  pageSize(): number;
  /** perf_event_open(2) through syscall(2): fd or -1 (cause in errno). */
  perfEventOpen(attr: Buffer, pid: number, cpu: number, groupFd: number, flags: number): number;
  /** CPUs the kernel may ever bring up: a per-CPU map's value holds one 8-byte-aligned slot for each. */
  possibleCpus(): number;
  close(fd: number): number;
  errno(): number;
  /**
   * A reader of a BPF ring buffer whose records are only doorbells (libbpf's ring_buffer with a callback
   * that keeps nothing); null on failure (cause in errno).
   */
  ringBufferNew(mapFd: number): Ptr | null;
  /** Discards every record written so far; the count, or a negative errno. */
  ringBufferConsume(rb: Ptr): number;
  /** The epoll fd that becomes readable when a record is written (and stays so until consumed). */
  ringBufferEpollFd(rb: Ptr): number;
  ringBufferFree(rb: Ptr): void;
  /** eventfd(2), close-on-exec: fd or -1. */
  eventFd(): number;
  /** Adds 1 to an eventfd's counter, making it readable; 8 (bytes written) or -1. */
  eventFdSignal(fd: number): number;
  /** epoll_ctl(EPOLL_CTL_ADD) for readability: 0 or -1. */
  epollAdd(epfd: number, fd: number): number;
  /**
   * epoll_wait(2) with no timeout on a libuv worker thread, so the main thread sleeps meanwhile; `done`
   * runs on the main thread with the ready count, or -1 (the cause is not kept: errno was the worker's).
   */
  epollWaitAsync(epfd: number, done: (ready: number) => void): void;
}

const SYS_PERF_EVENT_OPEN: Partial<Record<string, number>> = { x64: 298, arm64: 241 };

let cached: Libbpf | undefined;

/** Binds libbpf once per process. Throws a plain Error naming the package when the library is missing. */
export function libbpf(): Libbpf {
  if (cached) return cached;
  let lib: LibraryHandle;
  let libc: LibraryHandle;
  try {
    lib = koffi.load('libbpf.so.1');
  } catch (e) {
    throw new Error(
      `cannot load libbpf.so.1 (${(e as Error).message}): install libbpf 1.x — Debian/Ubuntu: apt-get install libbpf1`,
    );
  }
  try {
    libc = koffi.load('libc.so.6');
  } catch (e) {
    throw new Error(`cannot load libc.so.6: ${(e as Error).message}`);
  }
  const sysno = SYS_PERF_EVENT_OPEN[process.arch];
  if (sysno === undefined) throw new Error(`kiln agent: unsupported CPU architecture ${process.arch} (x64 and arm64 only)`);

  const openFile = lib.func('void *bpf_object__open_file(const char *path, void *opts)');
  const load = lib.func('int bpf_object__load(void *obj)');
  const closeObj = lib.func('void bpf_object__close(void *obj)');
  const findProg = lib.func('void *bpf_object__find_program_by_name(void *obj, const char *name)');
  const findMap = lib.func('void *bpf_object__find_map_by_name(void *obj, const char *name)');
  const mapFd = lib.func('int bpf_map__fd(void *map)');
  const setMax = lib.func('int bpf_map__set_max_entries(void *map, uint32_t n)');
  const attach = lib.func('void *bpf_program__attach_perf_event(void *prog, int pfd)');
  const destroy = lib.func('int bpf_link__destroy(void *link)');
  const attachAny = lib.func('void *bpf_program__attach(void *prog)');
  const setAutoload = lib.func('int bpf_program__set_autoload(void *prog, bool autoload)');
  const updateBatch = lib.func('int bpf_map_update_batch(int fd, void *keys, void *values, void *count, void *opts)');
  const lookupDeleteBatch = lib.func(
    'int bpf_map_lookup_and_delete_batch(int fd, void *in_batch, void *out_batch, void *keys, void *values, void *count, void *opts)',
  );
  const lookupBatch = lib.func(
    'int bpf_map_lookup_batch(int fd, void *in_batch, void *out_batch, void *keys, void *values, void *count, void *opts)',
  );
  const lookup = lib.func('int bpf_map_lookup_elem(int fd, void *key, void *value)');
  const update = lib.func('int bpf_map_update_elem(int fd, void *key, void *value, uint64_t flags)');
  const del = lib.func('int bpf_map_delete_elem(int fd, void *key)');
  const nextKey = lib.func('int bpf_map_get_next_key(int fd, void *key, void *next_key)');
  const possibleCpus = lib.func('int libbpf_num_possible_cpus(void)');
  const syscall = libc.func('long syscall(long number, ...)');
  const closeFd = libc.func('int close(int fd)');
  const mmap = libc.func('void *mmap(void *addr, size_t length, int prot, int flags, int fd, long offset)');
  const munmap = libc.func('int munmap(void *addr, size_t length)');
  const sysconf = libc.func('long sysconf(int name)');
  const SC_PAGESIZE = 30; // Linux, glibc and musl alike
  const recordCallback = koffi.proto('int kiln_ring_record(void *ctx, void *data, size_t size)');
  const ringNew = lib.func('void *ring_buffer__new(int map_fd, kiln_ring_record *cb, void *ctx, void *opts)');
  const ringConsume = lib.func('int ring_buffer__consume(void *rb)');
  const ringEpollFd = lib.func('int ring_buffer__epoll_fd(void *rb)');
  const ringFree = lib.func('void ring_buffer__free(void *rb)');
  const eventfd = libc.func('int eventfd(unsigned int initval, int flags)');
  const write = libc.func('long write(int fd, const uint8_t *buf, size_t n)');
  const epollCtl = libc.func('int epoll_ctl(int epfd, int op, int fd, const uint8_t *event)');
  // The events land in memory of koffi's own that lives as long as the process: a JS Buffer handed to an
  // asynchronous call (as `void *` or as an out-parameter) corrupted the heap when tried.
  const epollWait = libc.func('int epoll_wait(int epfd, void *events, int maxevents, int timeout)');
  const EFD_CLOEXEC = 0o2000000;
  const EPOLL_CTL_ADD = 1;
  const EPOLLIN = 1;
  /** struct epoll_event is packed on x86_64 (4 + 8 bytes) and 16 bytes elsewhere: room for either. */
  const EPOLL_EVENT_BYTES = 16;
  // Registered once for the process's life: records are doorbells, nothing in them is kept.
  const discard = koffi.register(() => 0, koffi.pointer(recordCallback));
  /** Where epoll_wait writes what woke it: one for the process, as nothing reads it. */
  let epollWaitEvents: unknown;
  const eventOne = Buffer.alloc(8);
  eventOne.writeBigUInt64LE(1n);

  const ptr = (p: unknown): Ptr | null => (typeof p === 'bigint' && p !== 0n ? p : null);
  cached = {
    objectOpenFile: (p) => ptr(openFile(p, null)),
    objectLoad: (o) => load(o) as number,
    objectClose: (o) => void closeObj(o),
    findProgram: (o, n) => ptr(findProg(o, n)),
    findMap: (o, n) => ptr(findMap(o, n)),
    mapFd: (m) => mapFd(m) as number,
    mapSetMaxEntries: (m, n) => setMax(m, n) as number,
    attachPerfEvent: (p, fd) => ptr(attach(p, fd)),
    linkDestroy: (l) => destroy(l) as number,
    attach: (p) => ptr(attachAny(p)),
    setAutoload: (p, on) => setAutoload(p, on) as number,
    mapUpdateBatch: (fd, k, v, c) => updateBatch(fd, k, v, c, null) as number,
    mapLookupAndDeleteBatch: (fd, i, o, k, v, c) => lookupDeleteBatch(fd, i, o, k, v, c, null) as number,
    mapLookupBatch: (fd, i, o, k, v, c) => lookupBatch(fd, i, o, k, v, c, null) as number,
    mapLookupElem: (fd, k, v) => lookup(fd, k, v) as number,
    mapUpdateElem: (fd, k, v, f) => update(fd, k, v, f) as number,
    mapDeleteElem: (fd, k) => del(fd, k) as number,
    mapGetNextKey: (fd, k, n) => nextKey(fd, k, n) as number,
    perfEventOpen: (attr, pid, cpu, group, flags) =>
      Number(syscall(sysno, 'void *', attr, 'int', pid, 'int', cpu, 'int', group, 'unsigned long', flags)),
    close: (fd) => closeFd(fd) as number,
    possibleCpus: () => possibleCpus() as number,
    pageSize: () => Number(sysconf(SC_PAGESIZE)),
    mmapMap: (fd, length, offset = 0) => {
      const PROT_READ_WRITE = 3;
      const MAP_SHARED = 1;
      const addr: unknown = mmap(null, length, PROT_READ_WRITE, MAP_SHARED, fd, offset);
      if (typeof addr !== 'bigint' || addr === 0n || addr === 0xffffffffffffffffn) return undefined;
      return { bytes: Buffer.from(koffi.view(addr, length)), unmap: () => void munmap(addr, length) };
    },
    errno: () => koffi.errno(),
    ringBufferNew: (fd) => ptr(ringNew(fd, discard, null, null)),
    ringBufferConsume: (rb) => ringConsume(rb) as number,
    ringBufferEpollFd: (rb) => ringEpollFd(rb) as number,
    ringBufferFree: (rb) => void ringFree(rb),
    eventFd: () => eventfd(0, EFD_CLOEXEC) as number,
    eventFdSignal: (fd) => Number(write(fd, eventOne, 8)),
    epollAdd: (epfd, fd) => {
      const ev = Buffer.alloc(EPOLL_EVENT_BYTES);
      ev.writeUInt32LE(EPOLLIN, 0);
      return epollCtl(epfd, EPOLL_CTL_ADD, fd, ev) as number;
    },
    epollWaitAsync: (epfd, done) => {
      epollWaitEvents ??= koffi.alloc('uint8_t', EPOLL_EVENT_BYTES);
      epollWait.async(epfd, epollWaitEvents, 1, -1, (err: unknown, ready: unknown) => done(err ? -1 : Number(ready)));
    },
  };
  return cached;
}
