// One embedded PostgreSQL holding two databases (cuttle, graphile: the reference gets its own
// database on the same server), and up to four Cuttle nodes run as real `cuttle run` processes.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { freePort, randomPassword, startEmbedded, type EmbeddedServer } from '../../src/db/embedded.js';
import { config } from './config.js';
import { sleep } from './util.js';

const BIN = fileURLToPath(new URL('../../../bin/cuttle.js', import.meta.url));
export const API_KEY = 'API-BENCHKEY000000000000000000001';
export const NODE_NAMES = ['b1', 'b2', 'b3', 'b4'] as const;

export interface Node { readonly name: string; readonly id: string; readonly url: string; readonly child: ChildProcess }

function cli(args: string[]): string {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cuttle ${args[0]} failed: ${r.stderr}`);
  return r.stdout;
}

export class Cluster {
  /** Nodes whose process runs, by name. */
  readonly running = new Map<string, Node>();

  private constructor(
    private readonly dir: string,
    readonly server: EmbeddedServer,
    /** The benchmark's own connection to the cuttle database (setup, measurement polls). */
    readonly db: pg.Client,
    readonly url: string,
    readonly graphileUrl: string,
  ) {}

  static async create(): Promise<Cluster> {
    const dir = mkdtempSync(join(tmpdir(), 'cuttle-bench-'));
    chmodSync(dir, 0o755);
    const server = await startEmbedded({ dataDir: join(dir, 'pg'), port: await freePort(), password: randomPassword() });
    try {
      const url = await Cluster.setup(dir, server);
      const db = new pg.Client({ connectionString: url });
      await db.connect();
      return new Cluster(dir, server, db, url, server.databaseUrl('graphile'));
    } catch (err) {
      // A failed setup (a CLI change, say) must not leave a PostgreSQL running behind it.
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** The two databases, four nodes' homes, shared storage and the admin's API key. */
  private static async setup(dir: string, server: EmbeddedServer): Promise<string> {
    const admin = new pg.Client({ connectionString: server.adminUrl });
    await admin.connect();
    await admin.query('CREATE DATABASE cuttle');
    await admin.query('CREATE DATABASE graphile');
    await admin.end();
    const url = server.databaseUrl('cuttle');
    const home = (n: string) => join(dir, `home-${n}`);
    const shared = join(dir, 'shared');
    mkdirSync(shared);
    cli(['setup', '--home', home('b1'), '--database', url, '--admin-username', 'admin', '--admin-password', 'bench-password', '--node-name', 'b1']);
    const key = cli(['show-master-key', '--home', home('b1')]).trim();
    cli(['path', '--home', home('b1'), '--cluster-shared', shared]);
    // --password too: creates the administrator should setup not have (harmless when it did).
    cli(['admin', '--home', home('b1'), '--username', 'admin', '--password', 'bench-password', '--api-key', API_KEY]);
    for (const n of NODE_NAMES.slice(1)) cli(['join', '--home', home(n), '--database', url, '--master-key', key, '--node-name', n]);
    return url;
  }

  /** Starts the named nodes that are not running (in parallel) and returns them all, in order. */
  async start(...names: string[]): Promise<Node[]> {
    await Promise.all(names.filter((n) => !this.running.has(n)).map(async (n) => this.running.set(n, await this.spawnNode(n))));
    return names.map((n) => this.running.get(n)!);
  }

  private async spawnNode(name: string): Promise<Node> {
    const port = await freePort();
    const prof = config.profileDir ? ['--cpu-prof', '--cpu-prof-dir', config.profileDir] : [];
    const child = spawn(process.execPath, [...prof, BIN, 'run', '--home', join(this.dir, `home-${name}`)], {
      env: { ...process.env, CUTTLE_LISTEN: `127.0.0.1:${port}`, CUTTLE_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'ignore', 'inherit'],
    });
    const url = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 300; i++) {
      try { if ((await fetch(`${url}/api/octopusservernodes/ping`)).ok) return { name, id: `OctopusServerNodes-${name}`, url, child }; } catch { /* starting */ }
      await sleep(100);
    }
    throw new Error(`node ${name} did not start`);
  }

  /** Stops the named nodes (all running ones by default); SIGTERM lets them hand back and deregister. */
  async stop(names: string[] = [...this.running.keys()], signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await Promise.all(names.map(async (name) => {
      const n = this.running.get(name);
      if (!n) return;
      this.running.delete(name);
      if (n.child.exitCode !== null || n.child.signalCode !== null) return;
      const exited = new Promise((r) => n.child.once('exit', r));
      n.child.kill(signal);
      await exited;
    }));
  }

  /**
   * Gives the named nodes a task cap and every other node 0. Claims read the cap from the table, so
   * it binds the next claim; the NOTIFY wakes the nodes, and the pause lets their own copies catch up.
   */
  async setCaps(names: readonly string[], cap = config.cap, settleMs = 300): Promise<void> {
    await this.db.query('UPDATE nodes SET max_concurrent_tasks = CASE WHEN id = ANY($1) THEN $2::int ELSE 0 END', [names.map((n) => `OctopusServerNodes-${n}`), cap]);
    await this.db.query(`SELECT pg_notify('cuttle_nodes', '')`);
    if (settleMs) await sleep(settleMs);
  }

  async post(n: Node, path: string, body: unknown): Promise<any> {
    const r = await fetch(n.url + path, { method: 'POST', headers: { 'content-type': 'application/json', 'X-Octopus-ApiKey': API_KEY }, body: JSON.stringify(body) });
    if (r.status >= 300) throw new Error(`${path}: ${r.status} ${await r.text()}`);
    return r.json();
  }

  async close(): Promise<void> {
    // SIGTERM, so --cpu-prof profiles get written; SIGKILL for any node that does not stop in time.
    const left = [...this.running.values()];
    await Promise.race([this.stop(), sleep(15_000)]);
    for (const n of left) if (n.child.exitCode === null && n.child.signalCode === null) n.child.kill('SIGKILL');
    await this.db.end().catch(() => undefined);
    await this.server.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
