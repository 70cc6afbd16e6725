import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** A process's CPU so far and its memory now, from /proc (the agent benches' measure of each profiler). */
export interface ProcSample {
  /** user + sys seconds since the process started. */
  readonly cpuS: number;
  readonly rssKiB: number;
  readonly hwmKiB: number;
  /** Resident anonymous memory (heap, buffers) and file pages (the node binary and libraries, shared). */
  readonly anonKiB: number;
  readonly fileKiB: number;
}

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

export function sampleProc(pid: number): ProcSample {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return { cpuS: (Number(stat[11]) + Number(stat[12])) / CLK_TCK, rssKiB: kib('VmRSS'), hwmKiB: kib('VmHWM'), anonKiB: kib('RssAnon'), fileKiB: kib('RssFile') };
}
