import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { Doorbell } from '../../src/agent/bpf/doorbell.js';
import type { Libbpf } from '../../src/agent/bpf/libbpf.js';
import { BpfProfiler } from '../../src/agent/loader.js';
import { DOORBELL_IDLE_POLL_MS, IDLE_POLL_MS, ProcessTables } from '../../src/agent/unwind/process-tables.js';
import { TableStore } from '../../src/agent/unwind/table-store.js';
import { requireBpf } from './require-bpf.js';

const until = async (done: () => boolean, ms: number) => {
  const by = Date.now() + ms;
  while (!done() && Date.now() < by) await new Promise((r) => setTimeout(r, 10));
};

/** A libbpf whose waits fail (a broken epoll fd), counting what the doorbell frees. */
function failingLib(): { lib: Libbpf; freed: () => number } {
  let freed = 0;
  const fake: Partial<Libbpf> = {
    ringBufferNew: () => 1n,
    ringBufferEpollFd: () => 7,
    eventFd: () => 8,
    epollAdd: () => 0,
    epollWaitAsync: (_fd, done) => void setImmediate(() => done(-1)),
    ringBufferConsume: () => 0,
    ringBufferFree: () => void freed++,
    close: () => 0,
    eventFdSignal: () => 8,
  };
  return { lib: fake as Libbpf, freed: () => freed };
}

describe('Doorbell', () => {
  it('gives up after ten failed waits in a row: says so once and frees its reader', async () => {
    const { lib, freed } = failingLib();
    const bell = Doorbell.open(lib, 3)!;
    let rings = 0;
    let broken = 0;
    bell.listen(
      () => rings++,
      () => broken++,
    );
    await until(() => broken > 0, 2000);
    await new Promise((r) => setTimeout(r, 50));
    expect({ rings, broken, freed: freed() }).toEqual({ rings: 0, broken: 1, freed: 1 });
  });

  it('a process table whose doorbell broke polls at the pace that needs none', async () => {
    const { lib } = failingLib();
    const none = {} as Libbpf;
    const tables = new ProcessTables(none, { procs: 1, pidEvents: 2, tableRequests: 3 }, new TableStore(none, 4, 1024, () => undefined, 4096));
    tables.poll = () => {}; // nothing to read: only the pace is under test
    const stop = tables.start(20, Doorbell.open(lib, 3));
    try {
      expect(tables.stats().idlePollMs).toBe(DOORBELL_IDLE_POLL_MS);
      await until(() => tables.stats().idlePollMs === IDLE_POLL_MS, 2000);
      expect(tables.stats().idlePollMs, 'back to polling every 500 ms').toBe(IDLE_POLL_MS);
    } finally {
      stop();
    }
  });
});

describe('Doorbell on real eBPF (root)', () => {
  const bpfs: BpfProfiler[] = [];
  afterEach(() => {
    for (const b of bpfs.splice(0)) b.close();
  });

  it('rings when a busy process needs tables, and stops ringing for good once closed', { timeout: 30_000 }, async () => {
    requireBpf();
    const bpf = BpfProfiler.start({ frequencyHz: 99, stackMapSize: 1024, countsMapSize: 1024, unwind: true });
    bpfs.push(bpf);
    const bell = Doorbell.open(bpf.lib, bpf.mapFd('doorbell'));
    expect(bell, 'the ring buffer reader is set up').toBeDefined();
    let rings = 0;
    bell!.listen(() => rings++);
    // Nothing drains pid_events here, so a process rings at most once: this one, new and busy, rings when
    // sampled a third time once 200 ms old (others on the host may ring too; the test needs one ring).
    const child = spawn('sh', ['-c', 'i=0; while [ $i -lt 5000000 ]; do i=$((i+1)); done'], { stdio: 'ignore' });
    try {
      await until(() => rings > 0, 5000);
      expect(rings, 'rings heard within 5 s of a busy process starting').toBeGreaterThan(0);
      bell!.close();
      const atClose = rings;
      await new Promise((r) => setTimeout(r, 1500));
      expect(rings, 'no ring after close()').toBe(atClose);
    } finally {
      child.kill();
    }
  });
});
