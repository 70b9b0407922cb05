// The reference: graphile-worker, given the same PostgreSQL server (its own database), the same
// number of worker processes as Cuttle has nodes, the same concurrency per process as Cuttle's task
// cap, the same task count and client concurrency, and the same end-of-run measure.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { Logger, makeWorkerUtils, type WorkerUtils } from 'graphile-worker';
import { config } from './config.js';
import { POLL_MS } from './queue.js';
import { percentile, rate, round, sleep, until } from './util.js';

const WORKER = fileURLToPath(new URL('../graphile-worker.js', import.meta.url));
const silent = new Logger(() => () => undefined);

async function startWorkers(url: string, count: number): Promise<ChildProcess[]> {
  return Promise.all(Array.from({ length: count }, () => new Promise<ChildProcess>((resolve, reject) => {
    const child = spawn(process.execPath, [WORKER], {
      env: { ...process.env, DATABASE_URL: url, GRAPHILE_CONCURRENCY: String(config.cap) }, stdio: ['ignore', 'pipe', 'inherit'],
    });
    child.stdout.setEncoding('utf8').on('data', (d: string) => { if (d.includes('ready')) resolve(child); });
    child.once('exit', (code) => reject(new Error(`graphile-worker exited with ${code} before it was ready`)));
  })));
}

async function stopWorkers(workers: ChildProcess[]): Promise<void> {
  await Promise.all(workers.map(async (w) => {
    if (w.exitCode !== null || w.signalCode !== null) return;
    const exited = new Promise((r) => w.once('exit', r));
    w.kill('SIGTERM');
    await exited;
  }));
}

/** Whether jobs remain. Completed jobs are deleted, so an empty table means all are done. */
async function jobsLeft(pool: pg.Pool): Promise<boolean> {
  return (await pool.query<{ left: boolean }>('SELECT EXISTS (SELECT 1 FROM graphile_worker._private_jobs) AS left')).rows[0]!.left;
}

async function describeJobs(pool: pg.Pool): Promise<string> {
  return JSON.stringify((await pool.query('SELECT count(*)::int AS n, count(locked_at)::int AS locked FROM graphile_worker._private_jobs')).rows);
}

/** Runs `fn` with WorkerUtils on a pool of `poolSize` and its migrations applied, then cleans up. */
async function withUtils<T>(url: string, poolSize: number, fn: (utils: WorkerUtils, pool: pg.Pool) => Promise<T>): Promise<T> {
  const pool = new pg.Pool({ connectionString: url, max: poolSize });
  // Idle and checked-out clients may see the server end a connection; graphile-worker asks for both handlers.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  const utils = await makeWorkerUtils({ pgPool: pool, logger: silent });
  try {
    await utils.migrate();
    await pool.query('DELETE FROM graphile_worker._private_jobs');
    await pool.query('VACUUM graphile_worker._private_jobs');
    return await fn(utils, pool);
  } finally {
    await utils.release();
    await pool.end();
  }
}

/**
 * Pre-queued no-op jobs drained by `processes` workers. The workers start idle (as Cuttle's nodes
 * are up before the run); the jobs go in with one add_jobs call, whose NOTIFY wakes them, and the
 * clock starts when that call returns — after its commit, so the reference is not charged for it.
 */
export async function graphileDrain(url: string, processes: number, count: number): Promise<Record<string, number>> {
  return withUtils(url, 2, async (_utils, pool) => {
    const workers = await startWorkers(url, processes);
    try {
      await sleep(300); // LISTEN established
      await pool.query(`SELECT graphile_worker.add_jobs(array_agg(('noop', '{}'::json, null, null, null, null, null, null)::graphile_worker.job_spec)) FROM generate_series(1, $1)`, [count]);
      const started = Date.now();
      await until(async () => !(await jobsLeft(pool)), POLL_MS, 600_000, () => describeJobs(pool));
      return { worker_processes: processes, concurrency: config.cap, jobs: count, ...rate(count, Date.now() - started, 'jobs_per_second') };
    } finally {
      await stopWorkers(workers);
    }
  });
}

/**
 * `clients` concurrent producers, each calling addJob one job at a time (WorkerUtils, one pooled
 * connection per client so none waits for a connection), `count` jobs in all, consumed by
 * `processes` workers. Rate = count / (first addJob → jobs table empty).
 */
export async function graphileEndToEnd(url: string, processes: number, clients: number, count: number): Promise<Record<string, number>> {
  return withUtils(url, clients, async (utils, pool) => {
    const workers = await startWorkers(url, processes);
    try {
      await sleep(300);
      let issued = 0;
      const calls: number[] = [];
      const started = Date.now();
      await Promise.all(Array.from({ length: clients }, async () => {
        while (issued < count) {
          issued++;
          const t = performance.now();
          await utils.addJob('noop', {});
          calls.push(performance.now() - t);
        }
      }));
      calls.sort((a, b) => a - b);
      const addedMs = Date.now() - started;
      await until(async () => !(await jobsLeft(pool)), POLL_MS, 600_000, () => describeJobs(pool));
      return {
        worker_processes: processes, concurrency: config.cap, clients, jobs: count,
        enqueue_seconds: +(addedMs / 1000).toFixed(3), add_job_p50_ms: round(percentile(calls, 50)), add_job_p99_ms: round(percentile(calls, 99)),
        ...rate(count, Date.now() - started, 'jobs_per_second'),
      };
    } finally {
      await stopWorkers(workers);
    }
  });
}
