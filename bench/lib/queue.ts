// The Cuttle side of the queue measurements: bulk-queued Noops drained by a chosen set of nodes.
import type pg from 'pg';
import type { Cluster } from './cluster.js';
import { config } from './config.js';
import { rate, until } from './util.js';

/**
 * Whether any task is queued or running. Each half stops at the first entry of a partial index
 * (server_tasks_queue in seq order, server_tasks_active), so polling a queue of 100,000 costs the
 * same as polling an empty one and does not compete with the node for the table. (A count of
 * `state <> 'Success'` was a sequential scan of the whole table every 20 ms.)
 */
export const BUSY_SQL = `SELECT EXISTS (SELECT 1 FROM (SELECT seq FROM server_tasks WHERE state = 'Queued' ORDER BY seq LIMIT 1) q)
    OR EXISTS (SELECT 1 FROM server_tasks WHERE state IN ('Executing', 'Cancelling')) AS busy`;

/** Whether the task with this seq has finished (one index probe). */
export async function lastFinished(db: pg.Client, seq: number): Promise<boolean> {
  return (await db.query<{ done: boolean }>('SELECT coalesce(bool_and(completed_time IS NOT NULL), true) AS done FROM server_tasks WHERE seq = $1', [seq])).rows[0]!.done;
}

export async function queueBusy(db: pg.Client): Promise<boolean> {
  return (await db.query<{ busy: boolean }>(BUSY_SQL)).rows[0]!.busy;
}

/** What a stalled drain looks like, for the error message. */
export async function describeQueue(db: pg.Client): Promise<string> {
  const q = await db.query(`SELECT state, count(*)::int AS n FROM server_tasks GROUP BY state`);
  const n = await db.query(`SELECT name, max_concurrent_tasks, drain, stopped_at IS NULL AS up FROM nodes`);
  return `${JSON.stringify(q.rows)} ${JSON.stringify(n.rows)}`;
}

/**
 * Queues `count` Noops in one statement. With `tags`, task i gets tag i % tags: neighbours in the
 * queue differ, and every tag has an equal share of the tasks.
 */
export async function insertNoops(db: pg.Client, count: number, tags = 0): Promise<void> {
  await db.query(
    `INSERT INTO server_tasks (id, seq, name, description, concurrency_tag)
     SELECT 'ServerTasks-' || s, s, 'Noop', 'bench', CASE WHEN $2::int > 0 THEN 'bench-tag-' || (s % $2::int) END
     FROM (SELECT nextval('server_tasks_seq') AS s FROM generate_series(1, $1)) x`, [count, tags]);
}

/**
 * Empties the table of finished and queued tasks and vacuums it, so every run starts from the same
 * state rather than behind the previous run's dead rows.
 */
export async function clearTasks(db: pg.Client): Promise<void> {
  await db.query(`DELETE FROM server_tasks WHERE state NOT IN ('Executing', 'Cancelling')`);
  await db.query('VACUUM server_tasks');
}

export interface DrainOptions {
  readonly tags?: number;
  /** Also report the rate over the first `head` completions (the deep queue's own rate). */
  readonly head?: number;
  readonly timeoutMs?: number;
}

/** How often the end of a run is looked for; the same for Cuttle and the reference. */
export const POLL_MS = 10;

/**
 * `count` Noops queued while every node's cap is 0, then drained by the named nodes (cap 5 each).
 * The clock starts when the cap is raised and stops when the poll sees the queue empty and idle:
 * the same measure the reference gets (until its jobs table is empty).
 */
export async function cuttleDrain(cluster: Cluster, names: readonly string[], count: number, o: DrainOptions = {}): Promise<Record<string, number>> {
  const db = cluster.db;
  await cluster.setCaps([]);
  await clearTasks(db);
  await insertNoops(db, count, o.tags ?? 0);
  const last = (await db.query<{ seq: number }>('SELECT max(seq)::int AS seq FROM server_tasks')).rows[0]!.seq;
  const started = Date.now();
  await cluster.setCaps(names, config.cap, 0);
  // Generous: 100,000 tasks on a loaded 2-core machine take minutes; this only catches a stall.
  // The newest task is claimed last (first in, first out), so until it has finished one primary-key
  // probe answers; only then is the whole queue checked (walking the queue's partial index from
  // its start every 10 ms, past every claimed task's dead entry, would load the server under test).
  await until(async () => (await lastFinished(db, last)) && !(await queueBusy(db)), POLL_MS, o.timeoutMs ?? 1_800_000, () => describeQueue(db));
  const ms = Date.now() - started;
  const out: Record<string, number> = { nodes: names.length, task_cap: config.cap, tasks: count, ...(o.tags ? { tags: o.tags } : {}), ...rate(count, ms) };
  if (o.head && o.head < count) out[`first_${o.head}_tasks_per_second`] = await headRate(db, started, o.head);
  return out;
}

/**
 * Tasks per second over the first `k` completions (by completed_time) of the last drain: the rate
 * while the queue was still at its deepest, which the whole-drain average dilutes with the tail.
 */
async function headRate(db: pg.Client, startedAt: number, k: number): Promise<number> {
  const r = await db.query<{ t: Date }>(
    `SELECT completed_time AS t FROM server_tasks WHERE completed_time IS NOT NULL ORDER BY completed_time OFFSET $1 LIMIT 1`, [k - 1]);
  return Math.round(k / ((r.rows[0]!.t.getTime() - startedAt) / 1000));
}
