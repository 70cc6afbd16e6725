import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Run time and run count of every perf-event BPF program (bpftool, with kernel.bpf_stats_enabled=1). */
export function bpfProgStats(): { id: number; name: string; runTimeNs: number; runCnt: number }[] {
  const json = JSON.parse(execFileSync('bpftool', ['prog', 'show', '--json']).toString()) as { id: number; name?: string; type: string; run_time_ns?: number; run_cnt?: number }[];
  return json.filter((p) => p.type === 'perf_event').map((p) => ({ id: p.id, name: p.name ?? '?', runTimeNs: p.run_time_ns ?? 0, runCnt: p.run_cnt ?? 0 }));
}

/** Ids of the BPF programs a process holds (other test runs on this host load kiln_sample too). */
export function programIdsOf(pid: number): Set<number> {
  const ids = new Set<number>();
  for (const fd of readdirSync(`/proc/${pid}/fdinfo`)) {
    try {
      const m = /^prog_id:\s*(\d+)$/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'));
      if (m) ids.add(Number(m[1]));
    } catch {
      // closed meanwhile
    }
  }
  return ids;
}
