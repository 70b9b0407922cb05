import type { Queryable } from '../db/pool.js';
import { NODE_LOCK_HELD, getSetting } from '../cluster/queries.js';
import { toTask, type RawTask, type TaskRow, type TaskState } from './types.js';

export const TASKS_CHANNEL = 'cuttle_tasks';
export const CANCEL_CHANNEL = 'cuttle_cancel';
export const LOG_CHANNEL = 'cuttle_log';

export interface NewTask {
  readonly spaceId: string;
  readonly name: string;
  readonly description: string;
  readonly arguments: Record<string, unknown>;
  readonly retryOnNodeFailure: boolean;
  readonly concurrencyTag: string | null;
  readonly timeoutSeconds: number | null;
  readonly createdBy: string | null;
}

/**
 * Queues a task in one statement (one round trip, its own transaction): the notification is sent
 * when that statement commits, so an idle node starts the task at once and never before it exists.
 */
export async function insertTask(db: Queryable, t: NewTask): Promise<TaskRow> {
  const r = await db.query<RawTask>({
    name: 'cuttle_insert_task',
    text: `WITH s AS (SELECT nextval('server_tasks_seq') AS seq),
     ins AS (
       INSERT INTO server_tasks (id, seq, space_id, name, description, arguments, retry_on_node_failure, concurrency_tag, timeout_seconds, created_by)
       SELECT 'ServerTasks-' || s.seq, s.seq, $1, $2, $3, $4, $5, $6, $7, $8 FROM s
       RETURNING *)
     SELECT ins.*, pg_notify('${TASKS_CHANNEL}', '') IS NULL AS notified FROM ins`,
    values: [t.spaceId, t.name, t.description, JSON.stringify(t.arguments), t.retryOnNodeFailure, t.concurrencyTag, t.timeoutSeconds, t.createdBy],
  });
  return toTask(r.rows[0] as RawTask);
}

/**
 * The claim is the database function cuttle_claim_tasks (migration 011): its plan is fixed (an
 * index scan of the queue in seq order, stopping at the LIMIT) whatever the table's statistics say,
 * and cached, so each call is one cheap round trip.
 */
export const CLAIM_TASKS_SQL = 'SELECT * FROM cuttle_claim_tasks($1, $2, $3, $4)';

/**
 * Claims up to `limit` of the oldest claimable tasks for this node in one statement. Rows another
 * claimer holds are skipped, never waited for. A task whose concurrency tag is busy, or that has an
 * older queued task with the same tag, is passed over (FIFO per tag, and never two of one tag in a
 * batch); the unique index on active tags is the final guard against two nodes racing for one tag
 * (the loser gets 23505 and tries again).
 */
export async function claimTasks(db: Queryable, nodeId: string, epoch: number, limit: number, running: number): Promise<TaskRow[]> {
  const r = await db.query<RawTask>({ name: 'cuttle_claim_tasks', text: CLAIM_TASKS_SQL, values: [nodeId, epoch, Math.max(1, limit), running] });
  return r.rows.map(toTask).sort((a, b) => a.seq - b.seq);
}

/**
 * Records the owner's result. Fenced: only the holder of the current claim token may write, so a
 * node that was declared dead (and whose task was recovered) changes nothing. A task being
 * cancelled ends Canceled whatever the script did.
 */
export interface Finish {
  readonly id: string;
  readonly token: string;
  readonly state: TaskState;
  readonly error: string | null;
  readonly hasWarnings: boolean;
  /** The attempt's whole log, when the writer kept it for the row instead of a file. */
  readonly inlineLog?: string | null;
}

/**
 * Records owners' results, several in one statement (one commit for all: group commit). Fenced:
 * a row changes only for the holder of its current claim token, so a node that was declared dead
 * (its task recovered) changes nothing. A task being cancelled ends Canceled whatever the script
 * did. Returns the ids that were recorded.
 */
export async function finishTasks(db: Queryable, items: readonly Finish[]): Promise<Set<string>> {
  const r = await db.query<{ id: string }>({
    name: 'cuttle_finish_tasks',
    text: `UPDATE server_tasks t SET
       state = CASE WHEN t.state = 'Cancelling' AND f.state <> 'TimedOut' THEN 'Canceled' ELSE f.state END,
       error_message = CASE WHEN t.state = 'Cancelling' AND f.state <> 'TimedOut' THEN 'The task was canceled.' ELSE f.error END,
       completed_time = now(), last_updated = now(), has_warnings = t.has_warnings OR f.warn, inline_log = f.log
     FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[], $5::boolean[], $6::text[]) AS f(id, token, state, error, warn, log)
     WHERE t.id = f.id AND t.claim_token = f.token AND t.state IN ('Executing', 'Cancelling')
     RETURNING t.id`,
    values: [items.map((i) => i.id), items.map((i) => i.token), items.map((i) => i.state), items.map((i) => i.error), items.map((i) => i.hasWarnings), items.map((i) => i.inlineLog ?? null)],
  });
  return new Set(r.rows.map((x) => x.id));
}

export async function finishTask(db: Queryable, id: string, token: string, state: TaskState, error: string | null, hasWarnings: boolean): Promise<boolean> {
  return (await finishTasks(db, [{ id, token, state, error, hasWarnings }])).has(id);
}

/** Cancels a task from any node: queued ones at once, running ones by telling their owner. */
export async function requestCancel(db: Queryable, id: string): Promise<TaskRow | undefined> {
  const r = await db.query<RawTask>(
    `UPDATE server_tasks SET
       state = CASE WHEN state = 'Queued' THEN 'Canceled' ELSE 'Cancelling' END,
       completed_time = CASE WHEN state = 'Queued' THEN now() ELSE completed_time END,
       error_message = CASE WHEN state = 'Queued' THEN 'The task was canceled before it started.' ELSE error_message END,
       last_updated = now()
     WHERE id = $1 AND state IN ('Queued', 'Executing')
     RETURNING *`,
    [id]);
  const row = r.rows[0];
  if (row?.state === 'Cancelling') await db.query(`SELECT pg_notify('${CANCEL_CHANNEL}', $1)`, [id]);
  return row ? toTask(row) : undefined;
}

export async function getTask(db: Queryable, id: string): Promise<TaskRow | undefined> {
  const r = await db.query<RawTask>('SELECT * FROM server_tasks WHERE id = $1', [id]);
  const row = r.rows[0];
  return row ? toTask(row) : undefined;
}

/** Which of these tasks this node still owns (same claim token, still running). */
export async function stillOwned(db: Queryable, ids: readonly string[], tokens: readonly string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const r = await db.query<{ id: string }>(
    `SELECT t.id FROM server_tasks t JOIN unnest($1::text[], $2::uuid[]) AS o(id, token) ON o.id = t.id AND o.token = t.claim_token
     WHERE t.state IN ('Executing', 'Cancelling')`, [ids, tokens]);
  return new Set(r.rows.map((x) => x.id));
}

/** The owner's check for cancels it may have missed while its listener reconnected. */
export async function cancellingAmong(db: Queryable, ids: readonly string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const r = await db.query<{ id: string }>(`SELECT id FROM server_tasks WHERE id = ANY($1) AND state = 'Cancelling'`, [ids]);
  return r.rows.map((x) => x.id);
}

export interface TaskFilter {
  readonly skip: number;
  readonly take: number;
  readonly states: readonly string[];
  readonly node?: string;
  readonly ids: readonly string[];
  readonly name?: string;
  readonly spaces: readonly string[];
  /** Only these task types (the ones the caller may view); every type when absent. */
  readonly types?: readonly string[];
  /** Only tasks whose concurrency tag is LIKE one of these (a deployment's project and environment). */
  readonly tagPatterns?: readonly string[];
}

export async function listTasks(db: Queryable, f: TaskFilter): Promise<{ items: TaskRow[]; total: number }> {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (sql: string, v: unknown) => { where.push(sql.replaceAll('?', `$${params.length + 1}`)); params.push(v); };
  if (f.states.length) add('state = ANY(?)', f.states);
  if (f.node) add(`(server_node = ? OR server_node = 'OctopusServerNodes-' || ?::text)`, f.node);
  if (f.ids.length) add('id = ANY(?)', f.ids);
  if (f.name) add('name = ?', f.name);
  if (f.spaces.length) add('space_id = ANY(?)', f.spaces);
  if (f.types) add('name = ANY(?)', f.types);
  if (f.tagPatterns?.length) add('concurrency_tag LIKE ANY(?)', f.tagPatterns);
  const w = where.length ? `WHERE ${where.join(' AND ')}` : '';
  // The page and its count in one statement, so one snapshot: a count taken apart from its page
  // disagrees with it while tasks change state. The count stops at EXACT_COUNT_LIMIT (below).
  const r = await db.query<RawTask & { total_count: number }>(
    `WITH page AS (SELECT * FROM server_tasks ${w} ORDER BY seq DESC OFFSET ${f.skip} LIMIT ${f.take}),
       total AS (SELECT count(*)::int AS n FROM (SELECT 1 FROM server_tasks ${w} LIMIT ${EXACT_COUNT_LIMIT + 1}) x)
     SELECT page.*, total.n AS total_count FROM total LEFT JOIN page ON true ORDER BY page.seq DESC`, params);
  const exact = r.rows[0]?.total_count ?? 0;
  const items = r.rows.filter((row) => row.id !== null).map(toTask);
  return { items, total: exact <= EXACT_COUNT_LIMIT ? exact : await estimateTasks(db, w, params, exact) };
}

/** Counted exactly up to here; beyond it the planner's estimate is the total (a long history is never scanned to page it). */
export const EXACT_COUNT_LIMIT = 10_000;

async function estimateTasks(db: Queryable, where: string, params: unknown[], atLeast: number): Promise<number> {
  const plan = await db.query<{ 'QUERY PLAN': [{ Plan: { 'Plan Rows': number } }] }>(`EXPLAIN (FORMAT JSON) SELECT 1 FROM server_tasks ${where}`, params);
  return Math.max(atLeast, Math.round(plan.rows[0]?.['QUERY PLAN'][0].Plan['Plan Rows'] ?? atLeast));
}

export interface Orphan { readonly task: TaskRow; readonly nodeName: string; readonly lastSeen: Date | null }

/**
 * Active tasks whose owner can no longer be the owner: its node stopped, restarted (new epoch),
 * lost its advisory lock and stopped heartbeating for a short grace, or went silent past the
 * offline threshold. Locked with SKIP LOCKED so two recoverers never handle the same task; the
 * caller decides each one's fate in the same transaction.
 */
export const LOCK_ORPHANS_SQL = `SELECT t.*, n.name AS node_name, n.last_seen AS node_last_seen
     FROM server_tasks t LEFT JOIN nodes n ON n.id = t.server_node
     WHERE t.state IN ('Executing', 'Cancelling')
       AND (n.id IS NULL OR n.epoch <> t.node_epoch OR n.stopped_at IS NOT NULL
            OR n.last_seen < now() - make_interval(secs => $2::double precision / 1000)
            -- A vanished lock is a death only if the node heartbeat since the server started: a
            -- restart takes every node's lock at once, and a live node keeps its tasks through it
            -- (for less than the offline threshold, which the line above still enforces).
            -- Gone for the grace, counted from when a recovery run first saw it gone
            -- (markLostLocks): the node has that long to stop its scripts.
            OR (n.lock_lost_at < now() - make_interval(secs => $1::double precision / 1000)
                AND n.last_seen > pg_postmaster_start_time()
                AND NOT ${NODE_LOCK_HELD}))
     ORDER BY t.seq
     LIMIT 100
     FOR UPDATE OF t SKIP LOCKED`;

/**
 * Stamps nodes whose advisory lock is gone with when that was first seen (a running node that
 * holds it again clears the stamp with its next heartbeat). Only nodes with tasks in hand matter.
 */
export async function markLostLocks(db: Queryable): Promise<void> {
  await db.query(
    `UPDATE nodes n SET lock_lost_at = now()
     WHERE n.lock_lost_at IS NULL AND n.stopped_at IS NULL
       AND EXISTS (SELECT 1 FROM server_tasks t WHERE t.server_node = n.id AND t.state IN ('Executing', 'Cancelling'))
       AND NOT ${NODE_LOCK_HELD}`);
}

export async function lockOrphans(db: Queryable, graceMs: number, thresholdMs: number): Promise<Orphan[]> {
  const r = await db.query<RawTask & { node_name: string | null; node_last_seen: Date | null }>(LOCK_ORPHANS_SQL, [graceMs, thresholdMs]);
  return r.rows.map((row) => ({ task: toTask(row), nodeName: row.node_name ?? row.server_node ?? 'unknown', lastSeen: row.node_last_seen }));
}

export async function requeue(db: Queryable, id: string): Promise<void> {
  await db.query(
    `UPDATE server_tasks SET state = 'Queued', server_node = NULL, node_epoch = NULL, claim_token = NULL,
       start_time = NULL, last_updated = now() WHERE id = $1`, [id]);
}

/** The owner hands a task back to the queue (clean shutdown); fenced like every owner write. */
export async function handBack(db: Queryable, id: string, token: string): Promise<boolean> {
  const r = await db.query(
    `UPDATE server_tasks SET state = 'Queued', server_node = NULL, node_epoch = NULL, claim_token = NULL,
       start_time = NULL, last_updated = now() WHERE id = $1 AND claim_token = $2 AND state = 'Executing'`, [id, token]);
  if (r.rowCount === 1) await notifyQueued(db);
  return r.rowCount === 1;
}

export async function failOrphan(db: Queryable, id: string, state: TaskState, message: string): Promise<void> {
  await db.query(
    `UPDATE server_tasks SET state = $2, error_message = $3, claim_token = NULL, completed_time = now(), last_updated = now()
     WHERE id = $1`, [id, state, message]);
}

export async function notifyQueued(db: Queryable): Promise<void> {
  await db.query(`SELECT pg_notify('${TASKS_CHANNEL}', '')`);
}

/**
 * The statements whose plans matter as the queue grows, with representative values: the benchmark
 * prints their EXPLAIN plans against a deep queue and a long history.
 */
export function hotStatements(nodeId: string, epoch: number): { name: string; text: string; values: unknown[] }[] {
  return [
    { name: 'claim', text: CLAIM_TASKS_SQL, values: [nodeId, epoch, 5, 0] },
    { name: 'retention', text: RETENTION_SQL, values: [30, 1000] },
    { name: 'orphans', text: LOCK_ORPHANS_SQL, values: [1500, 10_000] },
  ];
}

/** Proves the claim token is still the task's, and keeps the row from changing owner until commit. */
export async function lockOwnedTask(db: Queryable, id: string, token: string): Promise<boolean> {
  const r = await db.query({
    name: 'cuttle_lock_owned_task',
    text: `SELECT 1 FROM server_tasks WHERE id = $1 AND claim_token = $2 AND state IN ('Executing', 'Cancelling') FOR SHARE`,
    values: [id, token],
  });
  return r.rowCount === 1;
}

// Artifacts: files a task collected, kept in the shared Artifacts folder.

export interface ArtifactRow {
  readonly id: string;
  readonly spaceId: string;
  readonly taskId: string;
  readonly filename: string;
  readonly relPath: string;
  readonly length: number;
  readonly created: Date;
}

interface RawArtifact { id: string; space_id: string; task_id: string; filename: string; rel_path: string; length: number; created: Date }

function toArtifact(r: RawArtifact): ArtifactRow {
  return { id: r.id, spaceId: r.space_id, taskId: r.task_id, filename: r.filename, relPath: r.rel_path, length: Number(r.length), created: r.created };
}

export interface NewArtifact { readonly spaceId: string; readonly taskId: string; readonly filename: string; readonly relPath: string; readonly length: number }

export async function insertArtifact(db: Queryable, a: NewArtifact): Promise<ArtifactRow> {
  const r = await db.query<RawArtifact>(
    `INSERT INTO artifacts (id, space_id, task_id, filename, rel_path, length)
     VALUES ('Artifacts-' || nextval('artifacts_seq'), $1, $2, $3, $4, $5) RETURNING *`,
    [a.spaceId, a.taskId, a.filename, a.relPath, a.length]);
  return toArtifact(r.rows[0] as RawArtifact);
}

/** `types`: only artifacts of tasks of these types (the ones the caller may view); every type when absent. */
export async function listArtifacts(db: Queryable, spaceId: string, regarding: string | undefined, skip: number, take: number, types?: readonly string[]): Promise<{ items: ArtifactRow[]; total: number }> {
  const params: unknown[] = [spaceId];
  let where = 'space_id = $1';
  if (regarding) { params.push(regarding); where += ` AND task_id = $${params.length}`; }
  if (types) { params.push(types); where += ` AND task_id IN (SELECT id FROM server_tasks WHERE name = ANY($${params.length}))`; }
  const total = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM artifacts WHERE ${where}`, params);
  const r = await db.query<RawArtifact>(`SELECT * FROM artifacts WHERE ${where} ORDER BY created DESC, id DESC OFFSET ${skip} LIMIT ${take}`, params);
  return { items: r.rows.map(toArtifact), total: total.rows[0]?.n ?? 0 };
}

export async function getArtifact(db: Queryable, id: string): Promise<ArtifactRow | undefined> {
  const r = await db.query<RawArtifact>('SELECT * FROM artifacts WHERE id = $1', [id]);
  const row = r.rows[0];
  return row ? toArtifact(row) : undefined;
}

/** The node's task cap and drain as the database has them now. */
export async function readNodeSettings(db: Queryable, nodeId: string): Promise<{ cap: number; drain: boolean } | undefined> {
  const r = await db.query<{ max_concurrent_tasks: number; drain: boolean }>('SELECT max_concurrent_tasks, drain FROM nodes WHERE id = $1', [nodeId]);
  const row = r.rows[0];
  return row ? { cap: row.max_concurrent_tasks, drain: row.drain } : undefined;
}

/** Wakes live-log readers on every node: `payload` names the tasks whose logs grew (comma-separated). */
export async function notifyLogs(db: Queryable, payload: string): Promise<void> {
  await db.query(`SELECT pg_notify('${LOG_CHANNEL}', $1)`, [payload]);
}

// Cluster-wide jobs of the task system.

/** A numeric setting (days, say), or the fallback when unset or not a non-negative number. */
export async function numberSetting(db: Queryable, key: string, fallback: number): Promise<number> {
  const v = await getSetting<unknown>(db, key);
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : fallback;
}

export const RETENTION_SQL = `UPDATE server_tasks SET logs_deleted = true, inline_log = NULL
     WHERE id = ANY (ARRAY(
       -- server_tasks_retention: only finished tasks whose logs still exist, oldest first.
       SELECT id FROM server_tasks
       WHERE completed_time IS NOT NULL AND NOT logs_deleted
         AND completed_time < now() - make_interval(secs => $1::double precision * 86400)
       ORDER BY completed_time LIMIT $2))
     RETURNING id`;

/** Marks the logs of up to `limit` tasks finished more than `days` ago as deleted (and drops their artifact rows). */
export async function markLogsDeleted(db: Queryable, days: number, limit: number): Promise<string[]> {
  const r = await db.query<{ id: string }>(RETENTION_SQL, [days, limit]);
  const ids = r.rows.map((x) => x.id);
  if (ids.length) await db.query('DELETE FROM artifacts WHERE task_id = ANY($1)', [ids]);
  return ids;
}

/** Removes nodes offline for more than `days` that run nothing and whose process is gone; returns their names. */
export async function pruneOfflineNodes(db: Queryable, days: number): Promise<string[]> {
  const r = await db.query<{ name: string }>(
    `DELETE FROM nodes n
     WHERE coalesce(n.last_seen, n.registered_at) < now() - make_interval(secs => $1::double precision * 86400)
       AND NOT EXISTS (SELECT 1 FROM server_tasks t WHERE t.server_node = n.id AND t.state IN ('Executing', 'Cancelling'))
       AND NOT ${NODE_LOCK_HELD}
     RETURNING n.name`, [days]);
  return r.rows.map((x) => x.name);
}
