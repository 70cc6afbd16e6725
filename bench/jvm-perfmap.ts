/**
 * What naming HotSpot JIT frames costs (issue 11): the agent's first request to a running JVM (attach
 * file + SIGQUIT + the listener starting + Compiler.perfmap), each later request over the open socket,
 * the CPU both sides spend per request, and the map's size — for the proof's program
 * (test/agent/fixtures/jvm/Main.java, OpenJDK 17). The anchor, in the same run: the JDK's own
 * `jcmd PID Compiler.perfmap` (a second JVM started to do the same).
 *
 *   sudo npx tsx bench/jvm-perfmap.ts [runs=3] [refreshes=10] [workload=burner|javac]
 *
 * `javac`: a JVM compiling Main.java over and over with the JDK's compiler in-process, measured after
 * 20 s — a code cache of thousands of methods, nearer a real service's than the proof's few hundred.
 *
 * JVM CPU is its "Attach Listener" thread's (it runs the command) plus "Signal Dispatcher" (it starts
 * the listener), from /proc/PID/task/TID/schedstat (ns). Agent CPU is this process's, around the call.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { jcmd } from '../src/agent/jvm/attach.js';
import { catchesSigquit } from '../src/agent/jvm/detect.js';
import { PerfMap } from '../src/agent/symbolize/perf-map.js';

const runs = Number(process.argv[2] ?? 3);
const refreshes = Number(process.argv[3] ?? 10);
const workload = process.argv[4] ?? 'burner';
if (workload !== 'burner' && workload !== 'javac') throw new Error(`workload "${workload}": burner or javac`);
if (process.getuid?.() !== 0) throw new Error('run as root: the agent attaches as root');

const classes = mkdtempSync(path.join(tmpdir(), 'kiln-bench-jvm-'));
const mainJava = fileURLToPath(new URL('../test/agent/fixtures/jvm/Main.java', import.meta.url));
execFileSync('javac', ['-d', classes, mainJava]);
const JAVAC_LOOP = `public class JavacLoop {
  public static void main(String[] a) {
    javax.tools.JavaCompiler c = javax.tools.ToolProvider.getSystemJavaCompiler();
    long until = System.nanoTime() + 120_000_000_000L;
    while (System.nanoTime() < until) c.run(null, null, null, "-d", a[0], a[1]);
  }
}
`;
writeFileSync(path.join(classes, 'JavacLoop.java'), JAVAC_LOOP);
execFileSync('javac', ['-d', classes, path.join(classes, 'JavacLoop.java')]);
const javaArgs = workload === 'burner' ? ['-cp', classes, 'Main', '60'] : ['-cp', classes, 'JavacLoop', mkdtempSync(path.join(tmpdir(), 'kiln-bench-javac-out-')), mainJava];
const warmupMs = workload === 'burner' ? 3000 : 20_000;

/** CPU ns of the JVM's threads that serve attach requests. */
function attachThreadsNs(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      if (comm === 'Attach Listener' || comm === 'Signal Dispatch') ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // thread gone
    }
  }
  return ns;
}

function agentCpuMs(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Row {
  attachMs: number;
  attachJvmMs: number;
  refreshMs: number;
  refreshJvmMs: number;
  refreshAgentMs: number;
  parseMs: number;
  mapBytes: number;
  mapLines: number;
  jcmdToolMs: number;
  load: string;
}

async function once(): Promise<Row> {
  const java = spawn('java', javaArgs, { stdio: 'ignore' });
  const pid = java.pid!;
  try {
    while (!catchesSigquit(pid)) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, warmupMs)); // let the JIT compile the hot code
    let jvm0 = attachThreadsNs(pid);
    let t0 = performance.now();
    const first = await jcmd(pid, 'Compiler.perfmap');
    if (first.status !== 0) throw new Error(`Compiler.perfmap: ${first.output}`);
    const attachMs = performance.now() - t0;
    const attachJvmMs = (attachThreadsNs(pid) - jvm0) / 1e6;
    const wall: number[] = [];
    const jvmCpu: number[] = [];
    const agentCpu: number[] = [];
    for (let i = 0; i < refreshes; i++) {
      jvm0 = attachThreadsNs(pid);
      const cpu = process.cpuUsage();
      t0 = performance.now();
      await jcmd(pid, 'Compiler.perfmap');
      wall.push(performance.now() - t0);
      agentCpu.push(agentCpuMs(cpu));
      jvmCpu.push((attachThreadsNs(pid) - jvm0) / 1e6);
    }
    const mapPath = `/proc/${pid}/root/tmp/perf-${pid}.map`;
    const parse: number[] = [];
    let lines = 0;
    for (let i = 0; i < refreshes; i++) {
      const cpu = process.cpuUsage();
      const m = new PerfMap(mapPath);
      m.refresh();
      m.lookup(0); // the first lookup sorts what was read
      parse.push(agentCpuMs(cpu));
      lines = m.size;
    }
    t0 = performance.now();
    execFileSync('jcmd', [String(pid), 'Compiler.perfmap'], { stdio: 'ignore' });
    const jcmdToolMs = performance.now() - t0;
    return {
      attachMs,
      attachJvmMs,
      refreshMs: median(wall),
      refreshJvmMs: median(jvmCpu),
      refreshAgentMs: median(agentCpu),
      parseMs: median(parse),
      mapBytes: statSync(mapPath).size,
      mapLines: lines,
      jcmdToolMs,
      load: loadavg().map((l) => l.toFixed(1)).join(' '),
    };
  } finally {
    java.kill('SIGKILL');
  }
}

const rows: Row[] = [];
console.log(`workload: ${workload}, ${refreshes} later requests per run`);
console.log('| run | first request (attach) ms | its JVM CPU ms | later request ms | its JVM CPU ms | its agent CPU ms | map parse agent CPU ms | map | `jcmd` tool ms (anchor) | load (1/5/15 min) |');
console.log('|---|---|---|---|---|---|---|---|---|---|');
const f = (n: number) => n.toFixed(n < 10 ? 2 : 0);
for (let i = 0; i < runs; i++) {
  const r = await once();
  rows.push(r);
  console.log(`| ${i + 1} | ${f(r.attachMs)} | ${f(r.attachJvmMs)} | ${f(r.refreshMs)} | ${f(r.refreshJvmMs)} | ${f(r.refreshAgentMs)} | ${f(r.parseMs)} | ${r.mapLines} entries, ${(r.mapBytes / 1024).toFixed(1)} KiB | ${f(r.jcmdToolMs)} | ${r.load} |`);
}
const m = (k: keyof Omit<Row, 'load'>) => f(median(rows.map((r) => r[k])));
console.log(`| median | ${m('attachMs')} | ${m('attachJvmMs')} | ${m('refreshMs')} | ${m('refreshJvmMs')} | ${m('refreshAgentMs')} | ${m('parseMs')} | ${m('mapLines')} entries, ${(median(rows.map((r) => r.mapBytes)) / 1024).toFixed(1)} KiB | ${m('jcmdToolMs')} | |`);
