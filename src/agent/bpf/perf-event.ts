import { readFileSync } from 'node:fs';

/**
 * perf_event_attr for the sampling clock: PERF_TYPE_SOFTWARE / PERF_COUNT_SW_CPU_CLOCK in frequency
 * mode. Laid out by hand (offsets from include/uapi/linux/perf_event.h) — only a handful of fields
 * are non-zero, and a Buffer is what the syscall takes.
 */
const PERF_TYPE_SOFTWARE = 1;
const PERF_COUNT_SW_CPU_CLOCK = 0;
const PERF_ATTR_SIZE_VER7 = 128;
const FLAG_FREQ = 1n << 10n;
export const PERF_FLAG_FD_CLOEXEC = 8;

export function cpuClockAttr(frequencyHz: number): Buffer {
  const attr = Buffer.alloc(PERF_ATTR_SIZE_VER7);
  attr.writeUInt32LE(PERF_TYPE_SOFTWARE, 0); // type
  attr.writeUInt32LE(PERF_ATTR_SIZE_VER7, 4); // size
  attr.writeBigUInt64LE(BigInt(PERF_COUNT_SW_CPU_CLOCK), 8); // config
  attr.writeBigUInt64LE(BigInt(frequencyHz), 16); // sample_freq (union with sample_period)
  attr.writeBigUInt64LE(FLAG_FREQ, 40); // flags bitfield: freq=1, enabled from the start
  return attr;
}

/** Online CPU numbers from sysfs ("0-3,6" style lists). */
export function onlineCpus(list = readFileSync('/sys/devices/system/cpu/online', 'utf8')): number[] {
  const out: number[] = [];
  for (const part of list.trim().split(',')) {
    if (part === '') continue;
    const [a, b] = part.split('-').map((s) => Number.parseInt(s, 10));
    if (a === undefined || Number.isNaN(a)) throw new Error(`unreadable CPU list "${list.trim()}"`);
    for (let c = a; c <= (b ?? a); c++) out.push(c);
  }
  return out;
}
