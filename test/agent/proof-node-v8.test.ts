import { fileURLToPath, pathToFileURL } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { Profile as PprofProfile } from 'pprof-format';
import { afterAll, describe, expect, it } from 'vitest';
import { readV8Binary } from '../../src/agent/v8/constants.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { accountOf, CPU, foldedForPid, profileWorkload, shareUnder, totalSeconds } from './proof-support.js';
import { requireBpf } from './require-bpf.js';

let server: TestServer | undefined;
afterAll(async () => {
  await server?.close();
});

const BURN_JS = fileURLToPath(new URL('./fixtures/burn.js', import.meta.url));

/** The files the server's pprof export gives each function of `name` (its function table). */
async function filesOf(serverUrl: string, pid: number, name: string): Promise<string[]> {
  const q = new URLSearchParams({ query: `${CPU}{pid="${pid}"}`, from: 'now-15m', until: 'now+1m', format: 'pprof' });
  const res = await fetch(`${serverUrl}/api/v1/flamegraph?${q.toString()}`);
  if (!res.ok) throw new Error(`pprof export failed: HTTP ${res.status} ${await res.text()}`);
  const p = PprofProfile.decode(gunzipSync(Buffer.from(await res.arrayBuffer())));
  const str = (i: number | bigint) => p.stringTable.strings[Number(i)] ?? '';
  return p.function.filter((f) => str(f.name) === name).map((f) => str(f.filename));
}

describe('proof: a Node process WITHOUT --perf-basic-prof, its frames read from V8 (real eBPF agent, real server)', () => {
  // JIT code (optimised and baseline), then with --jitless every call interpreted: V8's interpreter
  // runs in its embedded builtins, inside node's own file mapping, where the walker also looks.
  // Each burns a fixed amount of its own CPU (4 000 / 3 000 samples at 499 Hz), however busy the machine.
  it.each([
    ['', [BURN_JS, '--cpu', '8']],
    [' in the interpreter only (--jitless)', ['--jitless', BURN_JS, '--cpu', '6']],
  ])('names the JS functions with their file and splits their CPU 70/30%s', { timeout: 300_000 }, async (_, args) => {
    requireBpf();
    const bin = readV8Binary(process.execPath);
    expect(bin, `${process.execPath} lacks V8's post-mortem constants (v8dbg_* symbols): its JavaScript frames cannot be named`).toBeDefined();
    server ??= await startTestServer();
    const workload = await profileWorkload(server.url, process.execPath, args);

    const folded = await foldedForPid(server.url, workload.pid);
    expect(folded.size, `the server has no profile for the node pid; ${workload.losses}`).toBeGreaterThan(0);
    const names = [...folded.keys()].flatMap((s) => s.split(';'));
    const top = [...folded].sort((x, y) => y[1] - x[1]).slice(0, 3).map(([k, v]) => `${(v / 1e9).toFixed(2)}s ${k.slice(-200)}`);
    expect(names.find((n) => /\bjsBurnA\b/.test(n)), `no frame named jsBurnA; heaviest stacks:\n${top.join('\n')}`).toBeDefined();
    expect(names.find((n) => /\bjsBurnB\b/.test(n)), 'no frame named jsBurnB').toBeDefined();
    // Named from the heap, not from a perf map: the function's script is its file (as V8 names it: an
    // ES module by its URL, the fixture being one here, a CommonJS one by its path).
    const script = [BURN_JS, pathToFileURL(BURN_JS).href];
    for (const fn of ['jsBurnA', 'jsBurnB']) {
      const files = await filesOf(server.url, workload.pid, fn);
      expect(files.some((f) => script.includes(f)), `${fn}'s files: ${JSON.stringify(files)}`).toBe(true);
    }
    const a = shareUnder(folded, /\bjsBurnA\b/);
    const b = shareUnder(folded, /\bjsBurnB\b/);
    const split = (100 * a.percent) / (a.percent + b.percent);
    expect(Math.abs(split - 70), `jsBurnA has ${split.toFixed(1)} % of the two functions' CPU`).toBeLessThanOrEqual(5);
    // Most of the process's CPU is in the two functions (start-up, GC and exit are the rest).
    expect(a.percent + b.percent, `share of the process CPU under jsBurnA / jsBurnB; heaviest stacks:\n${top.join('\n')}`).toBeGreaterThan(60);
    expect(workload.reportedCpuSeconds(), 'burn.js --cpu printed no cpu_seconds').toBeDefined();
    expect(totalSeconds(folded) / workload.cpuSeconds(), accountOf(folded, workload, workload.losses)).toBeGreaterThan(0.85);
  });
});
