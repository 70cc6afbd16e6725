import { describe, expect, it } from 'vitest';
import { parsePerfStat } from '../../bench/perf-stat.js';

// perf stat -x, --per-thread output as this host's perf writes it: comm-tid,value,unit,event,run time,share,...
const CSV = `# started on Thu Dec  3 06:12:07 2026

node-25029,<not supported>,,instructions:u,0,100.00,,
node-25031,<not supported>,,instructions:u,0,100.00,,
node-25029,685,,raw_syscalls:sys_enter,33751622,100.00,20.295,K/sec
node-25033,7,,raw_syscalls:sys_enter,3040843,100.00,2.302,K/sec
node-25031,<not counted>,,raw_syscalls:sys_enter,0,100.00,,
V8 DefaultWorke-25034,12,,raw_syscalls:sys_enter,3040843,100.00,2.302,K/sec
node-25029,33.75,msec,task-clock,33751622,100.00,0.034,CPUs utilized
node-25033,3.04,msec,task-clock,3040843,100.00,0.003,CPUs utilized
`;

describe('perf stat per thread, split into the main thread and the rest', () => {
  it('sums the other threads apart from the main thread (tid = pid), whatever their names hold', () => {
    const counts = parsePerfStat(CSV, 25029);
    expect(counts.get('raw_syscalls:sys_enter')).toEqual({ main: 685, others: 19 });
    expect(counts.get('task-clock')).toEqual({ main: 33.75, others: 3.04 });
  });

  it('leaves out an event the host cannot count (no hardware counters) instead of reading it as 0', () => {
    const counts = parsePerfStat(CSV, 25029);
    expect(counts.has('instructions:u')).toBe(false);
    expect(counts.has('page-faults')).toBe(false);
  });

  it('counts instructions where the host has them', () => {
    const counts = parsePerfStat('node-7,1200000,,instructions:u,10,100.00,,\nnode-9,300,,instructions:u,10,100.00,,\n', 7);
    expect(counts.get('instructions:u')).toEqual({ main: 1_200_000, others: 300 });
  });
});
