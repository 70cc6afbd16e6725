import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Writes `lines` as a script in `dir` and runs it in node with --allow-natives-syntax (for %DebugPrint),
 * its output in a file; resolves once it printed "@@ ready", with what it printed by then. The script
 * must print that line itself, and keep running until its stdin ends.
 */
export async function startScript(dir: string, name: string, lines: readonly string[]): Promise<{ child: ChildProcess; script: string; text: string }> {
  const script = path.join(dir, name);
  writeFileSync(script, lines.join('\n'));
  const out = path.join(dir, `${name}.out`);
  const child = spawn(process.execPath, ['--allow-natives-syntax', script], { stdio: ['pipe', openSync(out, 'w'), 'inherit'] });
  const deadline = Date.now() + 15_000;
  let text = '';
  while (!(text = readFileSync(out, 'utf8')).includes('@@ ready')) {
    if (Date.now() > deadline) {
      child.kill();
      throw new Error(`the fixture did not get ready:\n${text.slice(0, 2000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, script, text };
}
