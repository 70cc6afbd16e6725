import { chownSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { readNamespacePid } from '../symbolize/proc-maps.js';
import { attachDisabled, catchesSigquit } from './detect.js';

/**
 * A client for HotSpot's dynamic attach mechanism on Linux (what `jcmd` and `jattach` speak), so the
 * agent can ask a running JVM for its JIT symbol map without any change to the application:
 *
 * 1. the JVM listens on a unix socket `.java_pid<nspid>` in its temp directory, started lazily: the
 *    client creates `.attach_pid<nspid>` there and sends SIGQUIT; the JVM's signal thread sees the file
 *    and starts the listener instead of printing a thread dump;
 * 2. a request is `1\0<command>\0<arg1>\0<arg2>\0<arg3>\0` (protocol version 1, always three
 *    arguments); the answer is `<status>\n<output>` until the JVM closes the socket.
 *
 * Paths go through /proc/PID/root, so a JVM in a container (own mount and pid namespace) is reached
 * in its own /tmp under its own pid. The JVM accepts a peer with its own uid or root; the agent is root.
 */

export interface AttachOptions {
  readonly procRoot?: string;
  /** How long to wait for the listener to appear after SIGQUIT, and for the command's answer. */
  readonly timeoutMs?: number;
}

export interface AttachAnswer {
  /** The JVM's status for the command: 0 = done. */
  readonly status: number;
  readonly output: string;
}

/** Why an attach did not happen; `permanent` ones are not retried for this process. */
export class AttachError extends Error {
  constructor(
    message: string,
    readonly permanent: boolean,
  ) {
    super(message);
  }
}

/** Cap on a command's answer: Compiler.perfmap answers with nothing, an error with a line or two. */
const MAX_ANSWER_BYTES = 64 * 1024;

/** Runs one `jcmd` diagnostic command (e.g. `Compiler.perfmap`) in the JVM `pid`. */
export async function jcmd(pid: number, command: string, options: AttachOptions = {}): Promise<AttachAnswer> {
  const procRoot = options.procRoot ?? '/proc';
  const timeoutMs = options.timeoutMs ?? 5000;
  const nspid = readNamespacePid(pid, procRoot);
  const tmp = `${procRoot}/${pid}/root/tmp`;
  const socket = `${tmp}/.java_pid${nspid}`;
  if (!isSocket(socket)) await startListener(pid, procRoot, `${tmp}/.attach_pid${nspid}`, socket, timeoutMs);
  return request(socket, ['jcmd', command, '', ''], timeoutMs);
}

/** The file-plus-SIGQUIT handshake; resolves once the JVM's socket exists. */
async function startListener(pid: number, procRoot: string, triggerPath: string, socket: string, timeoutMs: number): Promise<void> {
  // A process that does not catch SIGQUIT (not a JVM, or one run with -Xrs) would be killed by it.
  if (!catchesSigquit(pid, procRoot)) throw new AttachError('the process does not handle SIGQUIT (-Xrs, or not a HotSpot JVM): not signalled', true);
  if (attachDisabled(pid, procRoot)) throw new AttachError('started with -XX:+DisableAttachMechanism: not signalled', true);
  try {
    writeFileSync(triggerPath, '', { flag: 'w', mode: 0o600 });
    // Owned like the JVM, as jcmd run by the JVM's user would leave it (HotSpot also accepts root's).
    const owner = statSync(`${procRoot}/${pid}`);
    chownSync(triggerPath, owner.uid, owner.gid);
  } catch (e) {
    throw new AttachError(`cannot create ${triggerPath}: ${(e as Error).message}`, true);
  }
  try {
    process.kill(pid, 'SIGQUIT');
    const deadline = Date.now() + timeoutMs;
    for (let wait = 10; !isSocket(socket); wait = Math.min(wait * 2, 200)) {
      // Permanent: another SIGQUIT to a JVM that does not start its listener prints one more thread dump.
      if (Date.now() > deadline) throw new AttachError(`no attach listener ${timeoutMs} ms after SIGQUIT: not signalled again`, true);
      await new Promise((r) => setTimeout(r, wait));
    }
  } finally {
    try {
      unlinkSync(triggerPath);
    } catch {
      // the JVM removes it itself once the listener is up
    }
  }
}

function isSocket(path: string): boolean {
  try {
    return statSync(path).isSocket();
  } catch {
    return false;
  }
}

function request(socket: string, args: readonly [string, string, string, string], timeoutMs: number): Promise<AttachAnswer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    const conn = createConnection({ path: socket });
    conn.setTimeout(timeoutMs, () => conn.destroy(new AttachError(`no answer within ${timeoutMs} ms`, false)));
    conn.on('connect', () => conn.end(`1\0${args.join('\0')}\0`));
    conn.on('data', (d: Buffer) => {
      bytes += d.length;
      if (bytes > MAX_ANSWER_BYTES) conn.destroy(new AttachError(`answer longer than ${MAX_ANSWER_BYTES} bytes`, false));
      else chunks.push(d);
    });
    conn.on('error', (e) => reject(e instanceof AttachError ? e : new AttachError(`attach socket: ${e.message}`, false)));
    conn.on('close', (hadError) => {
      if (hadError) return;
      const text = Buffer.concat(chunks).toString('utf8');
      const nl = text.indexOf('\n');
      const status = Number(nl < 0 ? text : text.slice(0, nl));
      if (!Number.isInteger(status)) reject(new AttachError(`not an attach answer: ${JSON.stringify(text.slice(0, 80))}`, false));
      else resolve({ status, output: nl < 0 ? '' : text.slice(nl + 1) });
    });
  });
}
