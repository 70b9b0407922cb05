// A database restart is not a node failure; a node cut off from the database (or frozen) stops its
// scripts before any other node may take its tasks over. Real PostgreSQL servers, real node
// processes, a real TCP proxy between one node and the database; each script records its own run.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, after } from 'node:test';
import pg from 'pg';
import { freePort, randomPassword, startEmbedded, type EmbeddedServer } from '../src/db/embedded.js';
import { ADMIN_API_KEY, BIN, api, queueTask, readyCluster, startNode, untilTask, waitFor } from './helpers.js';

const K = { apiKey: ADMIN_API_KEY };
const DEFAULT_TIMINGS = { CUTTLE_HEARTBEAT_SECONDS: '1', CUTTLE_OFFLINE_THRESHOLD_SECONDS: '10' };

/** A PostgreSQL server of this test's own, which it may stop and start again. */
async function ownServer(): Promise<{ server: EmbeddedServer; start: () => Promise<EmbeddedServer>; dir: string; url: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'cuttle-outage-pg-'));
  chmodSync(dir, 0o755);
  const o = { dataDir: join(dir, 'data'), port: await freePort(), password: randomPassword() };
  const server = await startEmbedded(o);
  const url = server.databaseUrl('postgres').replace(/\/postgres$/, '/cuttle');
  const admin = new pg.Client({ connectionString: server.adminUrl });
  await admin.connect();
  await admin.query('CREATE DATABASE cuttle').finally(() => admin.end());
  const up = spawnSync(process.execPath, [BIN, 'database', '--upgrade', '--database', url], { encoding: 'utf8' });
  if (up.status !== 0) throw new Error(`migrating the outage database failed: ${up.stderr}`);
  // Started again on the same folder and port; a loaded machine may need a moment to free them.
  const start = async (): Promise<EmbeddedServer> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await startEmbedded(o);
      } catch (err) {
        if (attempt >= 5) throw err;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  };
  return { server, start, dir, url };
}

/** Forwards TCP to PostgreSQL until frozen: then nothing passes either way, and nothing is closed. */
class FreezableProxy {
  private readonly sockets: Socket[] = [];
  private frozen = false;
  private constructor(private readonly server: Server, readonly port: number) {}

  static async start(targetPort: number): Promise<FreezableProxy> {
    const port = await freePort();
    const server = createServer();
    const proxy = new FreezableProxy(server, port);
    server.on('connection', (client) => proxy.accept(client, targetPort));
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    return proxy;
  }

  private accept(client: Socket, targetPort: number): void {
    this.sockets.push(client);
    client.on('error', () => undefined);
    if (this.frozen) { client.pause(); return; }
    const upstream = createConnection(targetPort, '127.0.0.1');
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    this.sockets.push(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
  }

  freeze(): void {
    this.frozen = true;
    for (const s of this.sockets) { s.unpipe(); s.pause(); }
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/**
 * A script that records its own run: a start line, then a time stamp every 100 ms while it lives,
 * in a file of its own per run in `dir`; it sleeps `seconds` in all.
 */
function recordingScript(dir: string, seconds: number): string {
  return [
    `f="${dir}/run-$(date +%s%N)-$$"`,
    `echo "$OctopusTaskId" > "$f"`,
    `for i in $(seq 1 ${seconds * 10}); do date +%s%N >> "$f"; sleep 0.1; done`,
    `echo done >> "$f"`,
  ].join('\n');
}

interface Run { readonly task: string; readonly start: number; readonly last: number; readonly done: boolean }

function runsIn(dir: string): Run[] {
  return readdirSync(dir).filter((n) => n.startsWith('run-')).map((n) => {
    const lines = readFileSync(join(dir, n), 'utf8').trim().split('\n');
    const stamps = lines.slice(1).filter((l) => /^\d+$/.test(l)).map(Number);
    return { task: lines[0]!, start: stamps[0] ?? 0, last: stamps[stamps.length - 1] ?? 0, done: lines[lines.length - 1] === 'done' };
  });
}

/** No two runs of one task overlap: each run's last sign of life comes before the next one's start. */
function assertNoOverlap(runs: Run[]): void {
  const byTask = new Map<string, Run[]>();
  for (const r of runs) byTask.set(r.task, [...(byTask.get(r.task) ?? []), r]);
  for (const [task, rs] of byTask) {
    rs.sort((a, b) => a.start - b.start);
    for (let i = 1; i < rs.length; i++) {
      assert.ok(rs[i]!.start > rs[i - 1]!.last, `two runs of ${task} overlapped by ${((rs[i - 1]!.last - rs[i]!.start) / 1e6).toFixed(0)} ms`);
    }
  }
}

describe('a PostgreSQL restart shorter than the grace period', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  after(async () => { for (const c of cleanups.reverse()) await c().catch(() => undefined); });

  it('fails no running task: ten sleeping scripts on two nodes all succeed, each run once', async () => {
    const own = await ownServer();
    let server = own.server;
    cleanups.push(async () => { await server.stop(); rmSync(own.dir, { recursive: true, force: true }); });
    const cluster = await readyCluster(['r1', 'r2'], { databaseUrl: own.url });
    const nodes = await Promise.all(['r1', 'r2'].map((n, i) => startNode(cluster.homes[i]!, n, DEFAULT_TIMINGS)));
    cleanups.push(() => Promise.all(nodes.map((n) => n.kill('SIGKILL'))));
    const runs = mkdtempSync(join(tmpdir(), 'cuttle-runs-'));
    chmodSync(runs, 0o777);
    const tasks = [];
    for (let i = 0; i < 10; i++) tasks.push(await queueTask(nodes[i % 2]!, { Name: 'AdHocScript', Arguments: { ScriptBody: recordingScript(runs, 12) } }));
    await waitFor('ten scripts running', () => runsIn(runs).length === 10, 30_000);

    // The outage counts from the moment the server begins to stop; it is kept well inside the node's
    // grace (about 8.5 s) even on a loaded machine, where stopping and starting PostgreSQL take seconds.
    const stoppedAt = Date.now();
    await server.stop();
    // While the database is away the nodes answer, and say they cannot serve (503, not 500).
    const ping = await api(nodes[0]!.url, '/api/octopusservernodes/ping').catch(() => ({ status: 0 }));
    assert.notEqual(ping.status, 200, 'a node without its database must not report itself healthy');
    await new Promise((r) => setTimeout(r, Math.max(0, 3_000 - (Date.now() - stoppedAt))));
    assert.equal(runsIn(runs).filter((r) => r.done).length, 0, 'the scripts were still meant to be running when the database came back');
    server = await own.start();

    for (const t of tasks) {
      const done = await untilTask(nodes[0]!, t.Id, (x) => x.IsCompleted, 'finished', 60_000);
      assert.equal(done.State, 'Success', `${t.Id}: ${done.ErrorMessage}\n${nodes.map((n) => n.output().slice(-3000)).join('\n')}`);
      assert.equal(done.Attempt, 1, `${t.Id} must have run once`);
    }
    const all = runsIn(runs);
    assert.equal(all.length, 10, 'one run per task');
    assert.ok(all.every((r) => r.done), 'every script ran to its end');
    const output = nodes.map((n) => n.output()).join('\n');
    assert.match(output, /the database is restarting: running tasks go on/);
  });
});

describe('a node cut off from a database that stays up', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  after(async () => { for (const c of cleanups.reverse()) await c().catch(() => undefined); });

  it('stops its script before another node runs the task again: the two runs never overlap', async () => {
    const cluster = await readyCluster(['c1', 'c2']);
    const port = Number(new URL(cluster.databaseUrl).port);
    const proxy = await FreezableProxy.start(port);
    cleanups.push(() => proxy.close());
    const viaProxy = new URL(cluster.databaseUrl);
    viaProxy.port = String(proxy.port);
    // c1 reaches the database only through the proxy (container style: the URL from the environment).
    const c1 = await startNode(cluster.homes[0]!, 'c1', { CUTTLE_DATABASE_URL: viaProxy.toString(), CUTTLE_MASTER_KEY: cluster.masterKey, CUTTLE_NODE_NAME: 'c1' });
    const c2 = await startNode(cluster.homes[1]!, 'c2');
    cleanups.push(() => Promise.all([c1.kill('SIGKILL'), c2.kill('SIGKILL')]));
    await api(c2.url, '/api/octopusservernodes/OctopusServerNodes-c2', { ...K, method: 'PUT', body: { MaxConcurrentTasks: 0 } });
    const runs = mkdtempSync(join(tmpdir(), 'cuttle-runs-'));
    chmodSync(runs, 0o777);
    const t = await queueTask(c1, { Name: 'AdHocScript', RetryOnNodeFailure: true, Arguments: { ScriptBody: recordingScript(runs, 8) } });
    await waitFor('the script running on c1', () => runsIn(runs).length === 1, 20_000);
    await api(c2.url, '/api/octopusservernodes/OctopusServerNodes-c2', { ...K, method: 'PUT', body: { MaxConcurrentTasks: 5 } });

    proxy.freeze();
    const done = await untilTask(c2, t.Id, (x) => x.IsCompleted, 'finished on c2', 60_000);
    assert.equal(done.State, 'Success', done.ErrorMessage);
    assert.equal(done.Attempt, 2);
    assert.equal(done.ServerNode, 'c2');
    const all = runsIn(runs);
    assert.equal(all.length, 2);
    assert.equal(all.filter((r) => r.done).length, 1, 'the cut-off run was stopped, the re-run finished');
    assertNoOverlap(all);
    assert.match(c1.output(), /liveness connection lost/);
  });
});


describe('a frozen node (SIGSTOP)', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  after(async () => { for (const c of cleanups.reverse()) await c().catch(() => undefined); });

  it('has its script killed by the script\'s own watchdog before another node runs the task again', async () => {
    const cluster = await readyCluster(['f1', 'f2']);
    const [f1, f2] = await Promise.all(['f1', 'f2'].map((n, i) => startNode(cluster.homes[i]!, n)));
    cleanups.push(() => Promise.all([f1!, f2!].map(async (n) => { n.child.kill('SIGCONT'); await n.kill('SIGKILL'); })));
    await api(f2!.url, '/api/octopusservernodes/OctopusServerNodes-f2', { ...K, method: 'PUT', body: { MaxConcurrentTasks: 0 } });
    const runs = mkdtempSync(join(tmpdir(), 'cuttle-runs-'));
    chmodSync(runs, 0o777);
    const t = await queueTask(f1!, { Name: 'AdHocScript', RetryOnNodeFailure: true, Arguments: { ScriptBody: recordingScript(runs, 8) } });
    await waitFor('the script running on f1', () => runsIn(runs).length === 1, 20_000);
    await api(f2!.url, '/api/octopusservernodes/OctopusServerNodes-f2', { ...K, method: 'PUT', body: { MaxConcurrentTasks: 5 } });

    f1!.child.kill('SIGSTOP');
    const done = await untilTask(f2!, t.Id, (x) => x.IsCompleted, 'finished on f2', 60_000);
    assert.equal(done.State, 'Success', done.ErrorMessage);
    assert.equal(done.Attempt, 2);
    assert.equal(done.ServerNode, 'f2');
    const all = runsIn(runs);
    assert.equal(all.length, 2);
    assert.equal(all.filter((r) => r.done).length, 1, 'the frozen node\'s run was stopped, the re-run finished');
    assertNoOverlap(all);
    // Thawed, the node finds its task taken over and records nothing over the re-run's result.
    f1!.child.kill('SIGCONT');
    await waitFor('f1 answering again', async () => (await api(f1!.url, '/api/octopusservernodes/ping').catch(() => ({ status: 0 }))).status === 200, 20_000);
    await new Promise((r) => setTimeout(r, 1_500));
    const after = (await api(f2!.url, `/api/tasks/${t.Id}`, K)).body;
    assert.equal(after.State, 'Success');
    assert.equal(after.ServerNode, 'f2');
  });
});
