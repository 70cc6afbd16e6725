import { Doorbell } from '../bpf/doorbell.js';
import type { BpfProfiler } from '../loader.js';
import { ProcessTables, type ProcessExtension, type ProcessTablesStats } from './process-tables.js';
import { TableStore } from './table-store.js';

export { ProcessTables, PROC_PYTHON, PROC_TABLES, type MappedBinary, type ProcessExtension } from './process-tables.js';

export interface Unwinding {
  readonly tables: ProcessTables;
  stats(): ProcessTablesStats;
  stop(): void;
}

export interface UnwindingOptions {
  readonly extensions?: readonly ProcessExtension[];
  /** Whether a newly seen process gets tables (the agent: not dropped by relabel rules). */
  readonly wanted?: (pid: number) => boolean;
  /** The fastest pace at which the BPF program's process events are handled (the idle pace is slower). */
  readonly pollMs?: number;
  /** CPU seconds each poll took, and how late its timer fired. */
  readonly onPoll?: (cpuSeconds: number, lateMs: number) => void;
}

/** Feeds the BPF walker: unwind tables for every process it samples, loaded as they appear. */
export function startUnwinding(bpf: BpfProfiler, options: UnwindingOptions = {}): Unwinding {
  const rowsFd = bpf.mapFd('unwind_rows');
  const store = new TableStore(bpf.lib, rowsFd, bpf.unwindRows, (offset, length) => bpf.lib.mmapMap(rowsFd, length, offset), bpf.lib.pageSize());
  const tables = new ProcessTables(
    bpf.lib,
    { procs: bpf.mapFd('procs'), pidEvents: bpf.mapFd('pid_events'), tableRequests: bpf.mapFd('table_requests') },
    store,
    { extensions: options.extensions, wanted: options.wanted, onPoll: options.onPoll },
  );
  tables.preloadOwnLibc();
  // Without its doorbell (its ring buffer's reader not set up) the tables are polled for at a faster idle pace.
  const stopPolling = tables.start(options.pollMs, Doorbell.open(bpf.lib, bpf.mapFd('doorbell')));
  return {
    tables,
    stats: () => tables.stats(),
    stop: () => {
      stopPolling();
      tables.clear();
    },
  };
}
