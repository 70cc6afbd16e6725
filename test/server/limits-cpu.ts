import { readFileSync } from 'node:fs';

/**
 * What the limits tests time, measured so that the shared test machine's load does not move it.
 *
 * The test server runs in the test's own process (test/support/server.ts), so this process's CPU time
 * while a request runs is what the client and the server spent on it, every thread counted: the event
 * loop, the decode workers, the compiler and GC threads. Wall time is that plus the time the threads
 * waited for a core: at load 25–35 on this 2-core machine a refusal costing 60 ms of CPU took 0.6–0.9 s
 * of wall time, and the tests failed with no change in Kiln. A refusal that decodes the whole payload
 * instead of stopping at the limit costs seconds of CPU whatever the load, and is still caught.
 */
export async function cpuTimed<T>(f: () => Promise<T>): Promise<{ value: T; cpuMs: number }> {
  const before = process.cpuUsage();
  const value = await f();
  const used = process.cpuUsage(before);
  return { value, cpuMs: (used.user + used.system) / 1000 };
}

/**
 * `tries` observations of `f`, each checked by `check`; returns their CPU times (cpuTimed). The first
 * request down a path also pays for compiling it, so a bound on the cheapest of a few is a bound on the
 * path; the assertions on each answer are never retried.
 */
export async function cpuTimes<T>(tries: number, f: () => Promise<T>, check: (value: T) => void): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < tries; i++) {
    const { value, cpuMs } = await cpuTimed(f);
    check(value);
    times.push(cpuMs);
  }
  return times;
}

/** An answer read whole: status, content type and body text (read inside the timed span, as a client does). */
export interface Answer {
  readonly status: number;
  readonly type: string;
  readonly text: string;
}

export async function answer(res: Response): Promise<Answer> {
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: Buffer.from(await res.arrayBuffer()).toString('latin1') };
}

/**
 * CPU time of the calling thread so far, in ms (the kernel's run time of the thread). For the thread
 * that runs the server's event loop, its growth while a request waits is how long the loop was busy
 * meanwhile; the time it was runnable but had no core is not counted.
 */
export function threadCpuMs(): number {
  return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1e6;
}
