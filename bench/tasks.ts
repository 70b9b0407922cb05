// bench/tasks: the task queue's hot paths, measured on one embedded PostgreSQL in one run.
// Prints JSON. Not part of `npm test`. Run with `npm run bench:tasks`.
//   pickup latency (QueueTime → StartTime) on an idle 1-node and 4-node cluster
//   throughput of 5,000 Noop tasks with 1, 2 and 4 nodes, and of 5,000 no-op graphile-worker jobs
//   failover: SIGKILL of the node running a task → the task started again on another node
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { Logger, run as runGraphile, makeWorkerUtils } from 'graphile-worker';
import { freePort, randomPassword, startEmbedded } from '../src/db/embedded.js';

const BIN = fileURLToPath(new URL('../../bin/cuttle.js', import.meta.url));
const TOTAL = Number(process.env.BENCH_TASKS ?? 5000);
const API_KEY = 'API-BENCHKEY000000000000000000001';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function cli(args: string[]): string {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cuttle ${args[0]} failed: ${r.stderr}`);
  return r.stdout;
}

interface Node { name: string; url: string; child: ChildProcess }

async function startNode(home: string, name: string): Promise<Node> {
  const port = await freePort();
  const child = spawn(process.execPath, [...(process.env.BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_PROFILE] : []), BIN, 'run', '--home', home], {
    env: { ...process.env, CUTTLE_LISTEN: `127.0.0.1:${port}`, CUTTLE_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    try { if ((await fetch(`${url}/api/octopusservernodes/ping`)).ok) return { name, url, child }; } catch { /* starting */ }
    await sleep(100);
  }
  throw new Error(`node ${name} did not start`);
}

async function stopNode(n: Node, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (n.child.exitCode !== null || n.child.signalCode !== null) return;
  const exited = new Promise((r) => n.child.once('exit', r));
  n.child.kill(signal);
  await exited;
}

async function post(n: Node, path: string, body: unknown): Promise<any> {
  const r = await fetch(n.url + path, { method: 'POST', headers: { 'content-type': 'application/json', 'X-Octopus-ApiKey': API_KEY }, body: JSON.stringify(body) });
  if (r.status >= 300) throw new Error(`${path}: ${r.status} ${await r.text()}`);
  return r.json();
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Runs a throughput measurement three times and reports the median run, with every run's rate. */
async function median3(run: () => Promise<Record<string, number>>, key: string): Promise<object> {
  const runs = [await run(), await run(), await run()];
  runs.sort((a, b) => a[key]! - b[key]!);
  return { ...runs[1], runs: runs.map((r) => r[key]) };
}

async function pickupLatency(db: pg.Client, nodes: Node[], samples: number): Promise<object> {
  const lat: number[] = [];
  for (let i = 0; i < samples; i++) {
    const t = await post(nodes[i % nodes.length]!, '/api/tasks', { Name: 'Noop' });
    for (;;) {
      const r = await db.query<{ ms: number | null; done: boolean }>(
        `SELECT extract(epoch FROM (start_time - queue_time)) * 1000 AS ms, completed_time IS NOT NULL AS done FROM server_tasks WHERE id = $1`, [t.Id]);
      if (r.rows[0]?.done) { lat.push(Number(r.rows[0].ms)); break; }
      await sleep(2);
    }
    await sleep(20); // idle cluster between samples
  }
  lat.sort((a, b) => a - b);
  return { samples, p50_ms: +percentile(lat, 50).toFixed(2), p99_ms: +percentile(lat, 99).toFixed(2), max_ms: +lat[lat.length - 1]!.toFixed(2) };
}

async function noopThroughput(db: pg.Client, nodes: Node[]): Promise<Record<string, number>> {
  await db.query('UPDATE nodes SET max_concurrent_tasks = 0');
  await db.query(`SELECT pg_notify('cuttle_nodes', '')`);
  await sleep(300);
  await db.query(`DELETE FROM server_tasks WHERE state IN ('Success', 'Queued')`);
  await db.query(
    `INSERT INTO server_tasks (id, seq, name, description)
     SELECT 'ServerTasks-' || s, s, 'Noop', 'bench' FROM (SELECT nextval('server_tasks_seq') AS s FROM generate_series(1, $1)) x`, [TOTAL]);
  const names = nodes.map((n) => `OctopusServerNodes-${n.name}`);
  const started = Date.now();
  await db.query('UPDATE nodes SET max_concurrent_tasks = 5 WHERE id = ANY($1)', [names]);
  await db.query(`SELECT pg_notify('cuttle_nodes', '')`);
  for (;;) {
    const r = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM server_tasks WHERE state <> 'Success'`);
    if (r.rows[0]!.n === 0) break;
    if (Date.now() - started > 120_000) {
      const q = await db.query(`SELECT id, state, server_node, attempt FROM server_tasks WHERE state <> 'Success' LIMIT 5`);
      const n = await db.query(`SELECT name, max_concurrent_tasks, drain, (SELECT count(*) FROM server_tasks t WHERE t.server_node = nodes.id AND t.state = 'Executing') AS running FROM nodes`);
      throw new Error(`stalled: ${JSON.stringify(q.rows)} ${JSON.stringify(n.rows)}`);
    }
    await sleep(20);
  }
  const seconds = (Date.now() - started) / 1000;
  return { nodes: nodes.length, task_cap: 5, tasks: TOTAL, seconds: +seconds.toFixed(2), tasks_per_second: Math.round(TOTAL / seconds) };
}

async function graphileThroughput(url: string, concurrency: number): Promise<Record<string, number>> {
  const silent = new Logger(() => () => undefined);
  const pool = new pg.Pool({ connectionString: url, max: 12 });
  pool.on('error', () => undefined);
  const utils = await makeWorkerUtils({ pgPool: pool, logger: silent });
  await utils.migrate();
  await pool.query(`SELECT graphile_worker.add_jobs(array_agg(('noop', '{}'::json, null, null, null, null, null, null)::graphile_worker.job_spec)) FROM generate_series(1, $1)`, [TOTAL]);
  const started = Date.now();
  const runner = await runGraphile({ pgPool: pool, concurrency, noHandleSignals: true, pollInterval: 1000, taskList: { noop: async () => undefined }, logger: silent });
  for (;;) {
    const r = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM graphile_worker.jobs');
    if (r.rows[0]!.n === 0) break;
    await sleep(20);
  }
  const seconds = (Date.now() - started) / 1000;
  await runner.stop();
  await utils.release();
  await pool.end();
  await new Promise((r) => setTimeout(r, 200));
  return { worker_processes: 1, concurrency, jobs: TOTAL, seconds: +seconds.toFixed(2), jobs_per_second: Math.round(TOTAL / seconds) };
}

async function failover(db: pg.Client, nodes: Node[]): Promise<object> {
  const t = await post(nodes[0]!, '/api/tasks', { Name: 'AdHocScript', RetryOnNodeFailure: true, Arguments: { ScriptBody: 'sleep 30' } });
  let owner = '';
  for (;;) {
    const r = await db.query<{ server_node: string | null; state: string }>('SELECT server_node, state FROM server_tasks WHERE id = $1', [t.Id]);
    if (r.rows[0]?.state === 'Executing') { owner = r.rows[0].server_node!; break; }
    await sleep(5);
  }
  const victim = nodes.find((n) => `OctopusServerNodes-${n.name}` === owner)!;
  const killed = await db.query<{ now: Date }>('SELECT clock_timestamp() AS now');
  victim.child.kill('SIGKILL');
  for (;;) {
    const r = await db.query<{ ms: number; node: string }>(
      `SELECT extract(epoch FROM (start_time - $2::timestamptz)) * 1000 AS ms, server_node AS node FROM server_tasks WHERE id = $1 AND state = 'Executing' AND attempt = 2`, [t.Id, killed.rows[0]!.now]);
    if (r.rows[0]) {
      await post(nodes.find((n) => n !== victim)!, `/api/tasks/${t.Id}/cancel`, {});
      return { from: victim.name, to: r.rows[0].node.replace('OctopusServerNodes-', ''), kill_to_restart_ms: Math.round(Number(r.rows[0].ms)) };
    }
    await sleep(5);
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'cuttle-bench-'));
  chmodSync(dir, 0o755);
  const server = await startEmbedded({ dataDir: join(dir, 'pg'), port: await freePort(), password: randomPassword() });
  const admin = new pg.Client({ connectionString: server.adminUrl });
  await admin.connect();
  await admin.query('CREATE DATABASE cuttle');
  await admin.query('CREATE DATABASE graphile');
  await admin.end();
  const url = server.databaseUrl('cuttle');
  const names = ['b1', 'b2', 'b3', 'b4'];
  const homes = names.map((n) => join(dir, `home-${n}`));
  const shared = join(dir, 'shared');
  mkdirSync(shared);
  cli(['setup', '--home', homes[0]!, '--database', url, '--admin-username', 'admin', '--admin-password', 'bench-password', '--node-name', 'b1']);
  const key = cli(['show-master-key', '--home', homes[0]!]).trim();
  cli(['path', '--home', homes[0]!, '--cluster-shared', shared]);
  cli(['admin', '--home', homes[0]!, '--username', 'admin', '--api-key', API_KEY]);
  for (let i = 1; i < 4; i++) cli(['join', '--home', homes[i]!, '--database', url, '--master-key', key, '--node-name', names[i]!]);
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  const result: Record<string, unknown> = { machine: { cpus: (await import('node:os')).cpus().length }, tasks: TOTAL };
  const nodes: Node[] = [];
  try {
    nodes.push(await startNode(homes[0]!, 'b1'));
    if (process.env.BENCH_QUICK) {
      // Development loop: one node's throughput against graphile-worker only.
      if (process.env.BENCH_QUICK === 'pickup') result.pickup_latency_1_node = await pickupLatency(db, nodes, 200);
      result.noop_throughput_1_node = await median3(() => noopThroughput(db, nodes), 'tasks_per_second');
      for (const n of nodes) await stopNode(n);
      result.graphile_worker = await median3(() => graphileThroughput(server.databaseUrl('graphile'), 5), 'jobs_per_second');
      process.stdout.write(JSON.stringify(result) + '\n');
      return;
    }
    result.pickup_latency_1_node = await pickupLatency(db, nodes, 200);
    result.noop_throughput_1_node = await median3(() => noopThroughput(db, nodes), 'tasks_per_second');
    nodes.push(await startNode(homes[1]!, 'b2'));
    result.noop_throughput_2_nodes = await median3(() => noopThroughput(db, nodes), 'tasks_per_second');
    nodes.push(await startNode(homes[2]!, 'b3'), await startNode(homes[3]!, 'b4'));
    result.noop_throughput_4_nodes = await median3(() => noopThroughput(db, nodes), 'tasks_per_second');
    await db.query('UPDATE nodes SET max_concurrent_tasks = 5');
    await db.query(`SELECT pg_notify('cuttle_nodes', '')`);
    await sleep(300);
    result.pickup_latency_4_nodes = await pickupLatency(db, nodes, 200);
    result.failover = await failover(db, nodes);
    for (const n of nodes) await stopNode(n);
    // The reference at the same concurrency as one node's default task cap (5), and at 10.
    result.graphile_worker = await median3(() => graphileThroughput(server.databaseUrl('graphile'), 5), 'jobs_per_second');
    result.graphile_worker_concurrency_10 = await median3(() => graphileThroughput(server.databaseUrl('graphile'), 10), 'jobs_per_second');
    const gw = (result.graphile_worker as { jobs_per_second: number }).jobs_per_second;
    const ratio = (k: string) => +((result[k] as { tasks_per_second: number }).tasks_per_second / gw).toFixed(2);
    result.noop_vs_graphile_worker = { one_node: ratio('noop_throughput_1_node'), two_nodes: ratio('noop_throughput_2_nodes'), four_nodes: ratio('noop_throughput_4_nodes') };
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  } finally {
    for (const n of nodes) await stopNode(n, 'SIGKILL');
    await db.end();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => { console.error(err); process.exitCode = 1; });
