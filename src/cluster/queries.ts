import type { Queryable } from '../db/pool.js';

// The cluster part's SQL: the cluster row, cluster-wide settings, the node registry, the node's
// advisory lock and heartbeat, scheduled jobs and LISTEN. One function per statement; rows come
// back as the database has them (snake_case) and nodes.ts maps them at the boundary.

/** First key of every node's session advisory lock ("CTLN"); the second is nodes.lock_key. */
const NODE_LOCK_NAMESPACE = 0x4354_4c4e;

// Liveness is decided by the database alone: the node's session advisory lock must be held
// (it vanishes the moment the node's connection dies) and its heartbeat must be recent by the
// database's clock (covers a node cut off from the network whose lock PostgreSQL still holds).
/** SQL that is true while the process of node row `n` holds its session advisory lock. */
export const NODE_LOCK_HELD = `EXISTS (SELECT 1 FROM pg_locks l
  WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
    AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
    AND l.classid = ${NODE_LOCK_NAMESPACE} AND l.objid = n.lock_key)`;

// ---- The cluster row

export interface ClusterRecord { installation_id: string; key_check: string }

export async function selectCluster(db: Queryable): Promise<ClusterRecord | undefined> {
  const r = await db.query<ClusterRecord>('SELECT installation_id, key_check FROM cluster WHERE id = 1');
  return r.rows[0];
}

/** False when the database already holds a cluster row (there is only ever one). */
export async function insertCluster(db: Queryable, installationId: string, keyCheck: string): Promise<boolean> {
  const inserted = await db.query(
    'INSERT INTO cluster (id, installation_id, key_check) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING',
    [installationId, keyCheck]);
  return inserted.rowCount === 1;
}

// ---- Cluster-wide settings (a JSON value per key)

export async function getSetting<T>(db: Queryable, key: string): Promise<T | undefined> {
  const r = await db.query<{ value: T }>('SELECT value FROM settings WHERE key = $1', [key]);
  return r.rows[0]?.value;
}

export async function putSetting(db: Queryable, key: string, value: unknown): Promise<void> {
  await db.query(
    `INSERT INTO settings (key, value) VALUES ($1, $2)
     ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
    [key, JSON.stringify(value)]);
}

export async function deleteSetting(db: Queryable, key: string): Promise<void> {
  await db.query('DELETE FROM settings WHERE key = $1', [key]);
}

// ---- The node registry

/** What a node last found when it checked shared storage (written by its storage monitor). */
export interface StorageReport {
  readonly checkedAt?: string;
  readonly folders?: readonly { name: string; path: string; ok: boolean; problem?: string }[];
  /** Peers whose beacon this node could not see (or saw with another nonce), per folder. */
  readonly unseenPeers?: readonly { node: string; folder: string; problem: string }[];
}

export interface NodeRecord {
  id: string; name: string; lock_key: number; epoch: number; version: string; listen_url: string;
  max_concurrent_tasks: number; drain: boolean; storage_nonce: string; storage_report: StorageReport;
  started_at: Date | null; stopped_at: Date | null; last_seen: Date | null; online: boolean; running_tasks: number;
  heartbeat_age: number | null;
}

const SELECT_NODES = `
  SELECT n.*,
    (n.stopped_at IS NULL AND n.last_seen > now() - make_interval(secs => $1::double precision / 1000)
      AND ${NODE_LOCK_HELD}) AS online,
    (SELECT count(*)::int FROM server_tasks t WHERE t.server_node = n.id AND t.state IN ('Executing', 'Cancelling')) AS running_tasks,
    -- By the database's clock, the one that wrote last_seen: no node's clock skew enters it.
    extract(epoch FROM now() - n.last_seen)::float8 AS heartbeat_age
  FROM nodes n`;

export async function selectNodes(db: Queryable, offlineThresholdMs: number): Promise<NodeRecord[]> {
  const r = await db.query<NodeRecord>(`${SELECT_NODES} ORDER BY n.name`, [offlineThresholdMs]);
  return r.rows;
}

export async function selectNode(db: Queryable, idOrName: string, offlineThresholdMs: number): Promise<NodeRecord | undefined> {
  const r = await db.query<NodeRecord>(`${SELECT_NODES} WHERE n.id = $2 OR n.name = $2`, [offlineThresholdMs, idOrName]);
  return r.rows[0];
}

/** The node of that name, `online` while its process holds the advisory lock (a heartbeat of any age counts). */
export async function selectNodeByLock(db: Queryable, name: string): Promise<NodeRecord | undefined> {
  const r = await db.query<NodeRecord>(`SELECT * FROM (${SELECT_NODES}) x WHERE x.name = $2`, [1e12, name]);
  return r.rows[0];
}

export async function insertNode(db: Queryable, id: string, name: string, version: string): Promise<void> {
  await db.query(
    `INSERT INTO nodes (id, name, version) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING`,
    [id, name, version]);
}

/** Changes the task cap and drain (null leaves one as it is); returns how many rows changed. */
export async function updateNodeSettings(db: Queryable, idOrName: string, maxConcurrentTasks: number | null, drain: boolean | null): Promise<number> {
  const r = await db.query(
    `UPDATE nodes SET max_concurrent_tasks = coalesce($2, max_concurrent_tasks), drain = coalesce($3, drain)
     WHERE id = $1 OR name = $1`,
    [idOrName, maxConcurrentTasks, drain]);
  return r.rowCount ?? 0;
}

/** Tells every node (through LISTEN cuttle_nodes) that a node's settings changed. */
export async function notifyNodeChanged(db: Queryable, idOrName: string): Promise<void> {
  await db.query(`SELECT pg_notify('cuttle_nodes', $1)`, [idOrName]);
}

export async function deleteNodeRow(db: Queryable, id: string): Promise<void> {
  await db.query('DELETE FROM nodes WHERE id = $1', [id]);
}

export async function setStorageReport(db: Queryable, nodeId: string, report: StorageReport): Promise<void> {
  await db.query('UPDATE nodes SET storage_report = $2 WHERE id = $1', [nodeId, JSON.stringify(report)]);
}

// ---- The node's own connection: its advisory lock, start, heartbeat and stop

export async function selectNodeLock(db: Queryable, id: string): Promise<{ lock_key: number; listen_url: string } | undefined> {
  const r = await db.query<{ lock_key: number; listen_url: string }>('SELECT lock_key, listen_url FROM nodes WHERE id = $1', [id]);
  return r.rows[0];
}

/** Takes the node's session advisory lock without waiting; false while another session holds it. */
export async function tryNodeLock(db: Queryable, lockKey: number): Promise<boolean> {
  const r = await db.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS ok', [NODE_LOCK_NAMESPACE, lockKey]);
  return r.rows[0]?.ok === true;
}

export async function releaseNodeLock(db: Queryable, lockKey: number): Promise<void> {
  await db.query('SELECT pg_advisory_unlock($1, $2)', [NODE_LOCK_NAMESPACE, lockKey]);
}

/** Marks the node started: a new epoch, its version, listen URL and storage nonce; returns the epoch. */
export async function startNodeEpoch(db: Queryable, id: string, version: string, listenUrl: string, storageNonce: string): Promise<number> {
  const r = await db.query<{ epoch: number }>(
    `UPDATE nodes SET epoch = epoch + 1, version = $2, listen_url = $3, storage_nonce = $4,
       started_at = now(), stopped_at = NULL, last_seen = now(), lock_lost_at = NULL
     WHERE id = $1 RETURNING epoch`,
    [id, version, listenUrl, storageNonce]);
  return (r.rows[0] as { epoch: number }).epoch;
}

/** Records a heartbeat of this start of the node; 0 rows means another start took over (or it stopped). */
export async function heartbeat(db: Queryable, id: string, epoch: number): Promise<number | null> {
  const r = await db.query('UPDATE nodes SET last_seen = now(), lock_lost_at = NULL WHERE id = $1 AND epoch = $2 AND stopped_at IS NULL', [id, epoch]);
  return r.rowCount;
}

/**
 * Whether the server started after this node's last heartbeat: its lock then vanished with the
 * restart (every node's did), not with this node.
 */
export async function postmasterRestartedSince(db: Queryable, id: string): Promise<boolean> {
  const r = await db.query<{ restarted: boolean }>(
    'SELECT coalesce(pg_postmaster_start_time() > (SELECT last_seen FROM nodes WHERE id = $1), false) AS restarted', [id]);
  return r.rows[0]?.restarted === true;
}

export async function markNodeStopped(db: Queryable, id: string, epoch: number): Promise<void> {
  await db.query('UPDATE nodes SET stopped_at = now() WHERE id = $1 AND epoch = $2', [id, epoch]);
}

// ---- Scheduled (cluster-wide, one node at a time) jobs

/** For this transaction only: PostgreSQL ends it (and frees its locks) once idle for `ms`. */
export async function setJobIdleLimit(db: Queryable, ms: number): Promise<void> {
  await db.query(`SELECT set_config('idle_in_transaction_session_timeout', $1, true)`, [String(Math.round(ms))]);
}

export async function ensureJobRow(db: Queryable, name: string): Promise<void> {
  await db.query('INSERT INTO scheduled_jobs (name) VALUES ($1) ON CONFLICT (name) DO NOTHING', [name]);
}

/** Locks the job's row when the job is due and no other node holds it (never waits); false otherwise. */
export async function lockDueJob(db: Queryable, name: string): Promise<boolean> {
  const due = await db.query('SELECT 1 FROM scheduled_jobs WHERE name = $1 AND next_run <= now() FOR UPDATE SKIP LOCKED', [name]);
  return due.rowCount !== 0;
}

export async function recordJobRun(db: Queryable, name: string, intervalMs: number, nodeName: string, result: string): Promise<void> {
  await db.query(
    `UPDATE scheduled_jobs SET next_run = now() + make_interval(secs => $2::double precision / 1000), last_run = now(), last_node = $3, last_result = $4 WHERE name = $1`,
    [name, intervalMs, nodeName, result]);
}

// ---- Notifications

/** Channel names are the product's own constants, never user input (LISTEN takes no parameters). */
export async function listen(db: Queryable, channel: string): Promise<void> {
  await db.query(`LISTEN ${channel}`);
}
