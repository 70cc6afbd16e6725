import type { ChildProcess } from 'node:child_process';
import { execFileSync, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/**
 * Real ClickHouse (and ZooKeeper) servers for tests, as child processes on free loopback ports, each
 * with its own config and data directory under the system temp dir. Nothing here touches the
 * packages' own configs or data: every file a server reads or writes is in its directory.
 *
 * The binaries come from the Debian packages `clickhouse-server` and `zookeeper`, which
 * `npm run test:all` installs; when they are missing the helpers fail saying so, never skip.
 */

const NOT_INSTALLED = 'clickhouse-server is not installed: run npm run test:all, which installs it';
const ZK_NOT_INSTALLED = 'zookeeper is not installed: run npm run test:all, which installs it';
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 15_000;

export interface ClickHouseServer {
  /** `clickhouse://default:@127.0.0.1:PORT/kiln`: what `--store` takes. */
  readonly url: string;
  readonly httpPort: number;
  readonly tcpPort: number;
  readonly dir: string;
  /** Starts the server again on the same ports and data (after stop or kill). */
  start(): Promise<void>;
  /** SIGTERM, then waits for the process to exit. */
  stop(): Promise<void>;
  /** SIGKILL: a crash, as a user would see one. */
  kill(): Promise<void>;
  /** SIGSTOP: the server keeps its port but answers nothing (a hung or overloaded server). */
  pause(): void;
  /** SIGCONT after pause. */
  resume(): void;
  /** Stops the server and removes its directory. */
  destroy(): Promise<void>;
  /** Runs SQL over HTTP as the default user (what a user would check with clickhouse-client); rows of JSONEachRow. */
  query<T = Record<string, unknown>>(sql: string): Promise<T[]>;
  /**
   * How the server died, with the tail of its error log, when it exited without stop, kill or destroy
   * being asked for (undefined while it runs, or after an exit the test asked for).
   */
  crash(): Promise<string | undefined>;
}

export interface ZooKeeperServer {
  readonly port: number;
  destroy(): Promise<void>;
}

/** One `remote_servers` cluster: shards of replicas, each a loopback TCP port. */
export interface ClusterLayout {
  readonly name: string;
  readonly shards: readonly (readonly number[])[];
}

export interface ClickHouseOptions {
  /** Database named in the url (created by the engine, not here). Default `kiln`. */
  readonly database?: string;
  readonly ports?: { readonly http: number; readonly tcp: number; readonly interserver: number };
  readonly cluster?: ClusterLayout;
  readonly macros?: Readonly<Record<string, string>>;
  readonly zookeeperPort?: number;
}

/** Free TCP ports on 127.0.0.1 (bound once and released; each test starts its servers right after). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<net.Server>((resolve, reject) => {
      const s = net.createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => resolve(s));
    })),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  return ports;
}

/** An executable on PATH, or undefined. */
function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const file = path.join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** How to run the server: Debian's `clickhouse-server`, or the single `clickhouse` binary of newer packages. */
function clickhouseCommand(): { file: string; args: string[] } {
  const server = onPath('clickhouse-server');
  if (server) return { file: server, args: [] };
  const multi = onPath('clickhouse');
  if (multi) return { file: multi, args: ['server'] };
  throw new Error(NOT_INSTALLED);
}

function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function clusterXml(c: ClusterLayout): string {
  const shards = c.shards
    .map((replicas) => {
      const rs = replicas.map((port) => `<replica><host>127.0.0.1</host><port>${port}</port></replica>`).join('');
      return `<shard><internal_replication>true</internal_replication>${rs}</shard>`;
    })
    .join('');
  return `<remote_servers><${c.name}>${shards}</${c.name}></remote_servers>`;
}

function configXml(dir: string, ports: { http: number; tcp: number; interserver: number }, opts: ClickHouseOptions): string {
  const d = (sub: string) => xmlEscape(path.join(dir, sub) + '/');
  const macros = opts.macros
    ? `<macros>${Object.entries(opts.macros).map(([k, v]) => `<${k}>${xmlEscape(v)}</${k}>`).join('')}</macros>`
    : '';
  const zk = opts.zookeeperPort
    ? `<zookeeper><node><host>127.0.0.1</host><port>${opts.zookeeperPort}</port></node><session_timeout_ms>6000</session_timeout_ms></zookeeper>
       <distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>`
    : '';
  return `<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>${d('log')}server.log</log><errorlog>${d('log')}error.log</errorlog><console>0</console></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>${ports.http}</http_port>
  <tcp_port>${ports.tcp}</tcp_port>
  <interserver_http_port>${ports.interserver}</interserver_http_port>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <path>${d('data')}</path>
  <tmp_path>${d('tmp')}</tmp_path>
  <user_files_path>${d('user_files')}</user_files_path>
  <format_schema_path>${d('format_schemas')}</format_schema_path>
  <users_config>users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mark_cache_size>268435456</mark_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>
  ${opts.cluster ? clusterXml(opts.cluster) : ''}
  ${zk}
  ${macros}
</yandex>
`;
}

const USERS_XML = `<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>2000000000</max_memory_usage></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default></default></quotas>
</yandex>
`;

async function until(what: string, timeoutMs: number, probe: () => Promise<boolean>, failed: () => Promise<string | undefined>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return;
    const why = await failed();
    if (why !== undefined) throw new Error(`${what}: ${why}`);
    if (Date.now() > deadline) throw new Error(`${what}: not answering after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function httpOk(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/ping`, { signal: AbortSignal.timeout(1000) });
    return res.ok;
  } catch {
    return false;
  }
}

async function httpQuery<T>(port: number, sql: string): Promise<T[]> {
  const body = /^\s*(select|with|show)\b/i.test(sql) ? `${sql} FORMAT JSONEachRow` : sql;
  const res = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body, signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  if (!res.ok) throw new Error(`clickhouse-server on ${port}: ${text.trim()}`);
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as T);
}

async function tail(file: string, lines = 15): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Sends a signal and waits for the exit, escalating to SIGKILL after STOP_TIMEOUT_MS. */
async function terminate(child: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const done = exited(child);
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await done;
  clearTimeout(timer);
}

/** Starts one clickhouse-server and waits until it answers /ping. */
export async function startClickHouse(opts: ClickHouseOptions = {}): Promise<ClickHouseServer> {
  const cmd = clickhouseCommand();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kiln-clickhouse-'));
  const [http, tcp, interserver] = opts.ports ? [opts.ports.http, opts.ports.tcp, opts.ports.interserver] : await freePorts(3);
  const ports = { http: http!, tcp: tcp!, interserver: interserver! };
  for (const sub of ['data', 'tmp', 'user_files', 'format_schemas', 'log']) await mkdir(path.join(dir, sub), { recursive: true });
  await writeFile(path.join(dir, 'config.xml'), configXml(dir, ports, opts));
  await writeFile(path.join(dir, 'users.xml'), USERS_XML);
  let child: ChildProcess | undefined;
  /** Set when the test stops or kills the server: its exit is then no crash. */
  let stopping = false;

  const start = async () => {
    if (child && child.exitCode === null && child.signalCode === null) return;
    stopping = false;
    const proc = spawn(cmd.file, [...cmd.args, `--config-file=${path.join(dir, 'config.xml')}`], {
      cwd: dir,
      stdio: 'ignore',
      detached: false,
    });
    child = proc;
    let spawnError: Error | undefined;
    proc.once('error', (e) => (spawnError = e));
    await until(
      `clickhouse-server on 127.0.0.1:${ports.http}`,
      START_TIMEOUT_MS,
      () => httpOk(ports.http),
      async () => {
        if (spawnError) return spawnError.message;
        if (proc.exitCode !== null || proc.signalCode !== null) {
          return `exited with ${proc.exitCode ?? proc.signalCode}\n${await tail(path.join(dir, 'log', 'error.log'))}`;
        }
        return undefined;
      },
    );
  };
  try {
    await start();
  } catch (e) {
    await terminate(child, 'SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    url: `clickhouse://default:@127.0.0.1:${ports.http}/${opts.database ?? 'kiln'}`,
    httpPort: ports.http,
    tcpPort: ports.tcp,
    dir,
    start,
    stop: () => ((stopping = true), terminate(child, 'SIGTERM')),
    kill: () => ((stopping = true), terminate(child, 'SIGKILL')),
    pause: () => void child?.kill('SIGSTOP'),
    resume: () => void child?.kill('SIGCONT'),
    query: (sql) => httpQuery(ports.http, sql),
    async crash() {
      if (stopping || !child || (child.exitCode === null && child.signalCode === null)) return undefined;
      return `clickhouse-server on 127.0.0.1:${ports.http} exited with ${child.exitCode ?? child.signalCode}\n${await tail(path.join(dir, 'log', 'error.log'))}`;
    },
    async destroy() {
      stopping = true;
      child?.kill('SIGCONT');
      await terminate(child, 'SIGTERM');
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The ZooKeeper jar of Debian's package (its manifest names the jars it needs). */
function zookeeperJar(): string {
  if (!onPath('java')) throw new Error(ZK_NOT_INSTALLED);
  let files: string[];
  try {
    files = execFileSync('dpkg-query', ['-L', 'libzookeeper-java'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n');
  } catch {
    throw new Error(ZK_NOT_INSTALLED);
  }
  const jar = files.find((f) => f.endsWith('/zookeeper.jar'));
  if (!jar) throw new Error(ZK_NOT_INSTALLED);
  return jar;
}

async function zkOk(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let answer = '';
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1000, () => done(false));
    sock.on('error', () => done(false));
    // `srvr` names the mode only once the server is serving; `ruok` answers earlier, and a
    // clickhouse-server 18.16 whose first ZooKeeper session fails crashes on its first ON CLUSTER query.
    sock.on('connect', () => sock.write('srvr'));
    sock.on('data', (b) => (answer += b.toString()));
    sock.on('close', () => done(/Mode: /.test(answer)));
  });
}

/** A standalone ZooKeeper on a free loopback port with its own data dir (no admin server). */
export async function startZooKeeper(): Promise<ZooKeeperServer> {
  const jar = zookeeperJar();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kiln-zookeeper-'));
  const [port] = await freePorts(1);
  await mkdir(path.join(dir, 'data'));
  const cfg = [
    'tickTime=500',
    `dataDir=${path.join(dir, 'data')}`,
    `clientPort=${port}`,
    'clientPortAddress=127.0.0.1',
    'admin.enableServer=false',
    '4lw.commands.whitelist=srvr',
    'maxClientCnxns=200',
  ].join('\n');
  await writeFile(path.join(dir, 'zoo.cfg'), `${cfg}\n`);
  const child = spawn('java', ['-Xmx256m', '-cp', jar, 'org.apache.zookeeper.server.ZooKeeperServerMain', path.join(dir, 'zoo.cfg')], {
    cwd: dir,
    stdio: 'ignore',
  });
  let spawnError: Error | undefined;
  child.once('error', (e) => (spawnError = e));
  try {
    await until(`zookeeper on 127.0.0.1:${port}`, START_TIMEOUT_MS, () => zkOk(port!), async () => {
      if (spawnError) return spawnError.message;
      return child.exitCode !== null ? `exited with ${child.exitCode}` : undefined;
    });
  } catch (e) {
    await terminate(child, 'SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    port: port!,
    async destroy() {
      await terminate(child, 'SIGTERM');
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface ClickHouseCluster {
  readonly name: string;
  readonly servers: readonly ClickHouseServer[];
  readonly zookeeper: ZooKeeperServer;
  destroy(): Promise<void>;
}

/**
 * Servers that form one `remote_servers` cluster, with a ZooKeeper for `ON CLUSTER` DDL and
 * replication. `shards` × `replicas` servers; macros `{shard}` and `{replica}` set on each.
 */
export async function startCluster(shards: number, replicas: number, name = 'kiln_test'): Promise<ClickHouseCluster> {
  clickhouseCommand(); // fail before starting ZooKeeper when the server is missing
  const zookeeper = await startZooKeeper();
  const servers: ClickHouseServer[] = [];
  try {
    const ports = await freePorts(shards * replicas * 3);
    const at = (i: number) => ({ http: ports[3 * i]!, tcp: ports[3 * i + 1]!, interserver: ports[3 * i + 2]! });
    const layout: ClusterLayout = {
      name,
      shards: Array.from({ length: shards }, (_, s) => Array.from({ length: replicas }, (_, r) => at(s * replicas + r).tcp)),
    };
    const starts: Promise<ClickHouseServer>[] = [];
    for (let s = 0; s < shards; s++) {
      for (let r = 0; r < replicas; r++) {
        starts.push(
          startClickHouse({
            ports: at(s * replicas + r),
            cluster: layout,
            zookeeperPort: zookeeper.port,
            macros: { shard: String(s + 1), replica: `r${r + 1}` },
          }),
        );
      }
    }
    const settled = await Promise.allSettled(starts);
    for (const x of settled) if (x.status === 'fulfilled') servers.push(x.value);
    const failed = settled.find((x): x is PromiseRejectedResult => x.status === 'rejected');
    if (failed) throw failed.reason;
  } catch (e) {
    await Promise.all(servers.map((s) => s.destroy()));
    await zookeeper.destroy();
    throw e;
  }
  return {
    name,
    servers,
    zookeeper,
    async destroy() {
      await Promise.all(servers.map((s) => s.destroy()));
      await zookeeper.destroy();
    },
  };
}
