import type { Libbpf, Ptr } from './libbpf.js';

/**
 * The BPF program's doorbell (bpf/kiln.h `doorbell`): it rings when the agent has work that should not
 * wait for a timer — a walk asked for a table, a process old enough to load was sampled twice, a loaded
 * process exec'd — and the agent sleeps until then. A wait on a libuv worker thread (epoll on the ring
 * buffer) instead of a timer on the main thread: each wake-up of the agent costs 150–230 µs of CPU on
 * the shared test host however little it does, and the twice-a-second poll it replaces was most of an
 * idle agent's wake-ups.
 *
 * One worker thread (koffi's asynchronous call, from libuv's pool of four) stays blocked in epoll_wait
 * for the agent's life; the agent's other uses of the pool are occasional name lookups. close() wakes it
 * through an eventfd in the same epoll set.
 */
export class Doorbell {
  private waiting = false;
  private closed = false;
  private released = false;
  private failures = 0;
  /** Times the BPF program's rings woke the agent. */
  rings = 0;

  private constructor(
    private readonly lib: Libbpf,
    private readonly rb: Ptr,
    private readonly epfd: number,
    private readonly stopFd: number,
  ) {}

  /** The doorbell of a loaded BPF object's ring buffer map; undefined when it cannot be read here. */
  static open(lib: Libbpf, mapFd: number): Doorbell | undefined {
    const rb = lib.ringBufferNew(mapFd);
    if (rb === null) return undefined;
    const epfd = lib.ringBufferEpollFd(rb);
    const stopFd = lib.eventFd();
    if (epfd < 0 || stopFd < 0 || lib.epollAdd(epfd, stopFd) !== 0) {
      if (stopFd >= 0) lib.close(stopFd);
      lib.ringBufferFree(rb);
      return undefined;
    }
    return new Doorbell(lib, rb, epfd, stopFd);
  }

  /**
   * Calls `onRing` on the main thread after each ring, until close(). The records are discarded first,
   * so a ring during `onRing` wakes the agent again: no work is left unheard of. `onBroken`: the wait
   * failed ten times in a row and the doorbell is closed (the caller polls on its own again).
   */
  listen(onRing: () => void, onBroken: () => void = () => {}): void {
    if (this.waiting || this.closed) return;
    this.waiting = true;
    this.lib.epollWaitAsync(this.epfd, (ready) => {
      this.waiting = false;
      if (this.closed) return this.release();
      if (ready < 0) {
        if (++this.failures < 10) return this.listen(onRing, onBroken); // an interrupted wait
        this.close();
        return onBroken();
      }
      this.failures = 0;
      this.lib.ringBufferConsume(this.rb);
      this.rings++;
      onRing();
      this.listen(onRing, onBroken);
    });
  }

  /** Stops listening; the worker thread is woken and the ring buffer's reader freed once it is back. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.waiting) this.lib.eventFdSignal(this.stopFd);
    else this.release();
  }

  private release(): void {
    if (this.released) return;
    this.released = true;
    this.lib.ringBufferFree(this.rb);
    this.lib.close(this.stopFd);
  }
}
