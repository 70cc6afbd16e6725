import { readProcText, type CodeMapping } from '../symbolize/proc-maps.js';

/** Recognising a HotSpot JVM from /proc without touching it. */

/**
 * What the symbolizer already knows of a process (its snapshot, symbolize/process-snapshot.ts): enough
 * to tell a JVM without reading /proc/PID/maps again. Node processes have unnamed JIT code every
 * interval, and re-reading their whole maps (hundreds of lines) once a minute each cost ≈ 5 % of the
 * agent's time in a steady-state profile of bench/agent-overhead.ts.
 */
export interface KnownProcess {
  /** Start time from /proc/PID/stat (tells a reused pid apart); undefined when seen only after it exited. */
  readonly startTime: string | undefined;
  readonly mappings: readonly CodeMapping[];
}

/** Whether HotSpot's VM library is among a process's code mappings. */
export function mapsHotSpot(mappings: readonly CodeMapping[]): boolean {
  return mappings.some((m) => m.path.endsWith(LIBJVM));
}

const LIBJVM = '/libjvm.so';

/** Whether the process has HotSpot's VM library mapped (java, and any launcher embedding the JVM). */
export function isHotSpot(pid: number, procRoot = '/proc'): boolean {
  return /\/libjvm\.so$/m.test(readProcText(`${procRoot}/${pid}/maps`) ?? '');
}

const SIGQUIT_BIT = 1n << 2n; // signal 3, bit (3 - 1) of the SigCgt mask

/**
 * Whether the process has a handler for SIGQUIT. HotSpot installs one at start unless run with -Xrs;
 * without one, the signal's default action would end the process with a core dump.
 */
export function catchesSigquit(pid: number, procRoot = '/proc'): boolean {
  const m = /^SigCgt:\s*([0-9a-f]+)$/m.exec(readProcText(`${procRoot}/${pid}/status`) ?? '');
  return m !== null && (BigInt(`0x${m[1]!}`) & SIGQUIT_BIT) !== 0n;
}

/**
 * Whether the JVM was started with -XX:+DisableAttachMechanism (on its command line or in the
 * JAVA_TOOL_OPTIONS / JDK_JAVA_OPTIONS / _JAVA_OPTIONS it read at start). Such a JVM answers SIGQUIT
 * with a thread dump on its stdout, so it is never signalled.
 */
export function attachDisabled(pid: number, procRoot = '/proc'): boolean {
  const flag = '-XX:+DisableAttachMechanism';
  // An unreadable file is decided by the rest.
  return ['cmdline', 'environ'].some((file) => readProcText(`${procRoot}/${pid}/${file}`)?.includes(flag) ?? false);
}
