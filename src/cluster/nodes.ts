import type { Queryable } from '../db/pool.js';

/** First key of every node's session advisory lock ("CTLN"); the second is nodes.lock_key. */
export const NODE_LOCK_NAMESPACE = 0x4354_4c4e;

export function nodeId(name: string): string {
  return `OctopusServerNodes-${name}`;
}

export interface NodeRow {
  readonly id: string;
  readonly name: string;
  readonly lockKey: number;
  readonly epoch: number;
  readonly version: string;
  readonly listenUrl: string;
  readonly maxConcurrentTasks: number;
  readonly drain: boolean;
  readonly storageNonce: string;
  readonly storageReport: StorageReport;
  readonly startedAt: Date | null;
  readonly stoppedAt: Date | null;
  readonly lastSeen: Date | null;
  /** Holds its advisory lock, has not stopped, and heartbeated within the threshold. */
  readonly online: boolean;
  readonly runningTasks: number;
}

export interface StorageReport {
  readonly checkedAt?: string;
  readonly folders?: readonly { name: string; path: string; ok: boolean; problem?: string }[];
  /** Peers whose beacon this node could not see (or saw with another nonce), per folder. */
  readonly unseenPeers?: readonly { node: string; folder: string; problem: string }[];
}

interface RawNode {
  id: string; name: string; lock_key: number; epoch: number; version: string; listen_url: string;
  max_concurrent_tasks: number; drain: boolean; storage_nonce: string; storage_report: StorageReport;
  started_at: Date | null; stopped_at: Date | null; last_seen: Date | null; online: boolean; running_tasks: number;
}

function toNode(r: RawNode): NodeRow {
  return {
    id: r.id, name: r.name, lockKey: r.lock_key, epoch: r.epoch, version: r.version, listenUrl: r.listen_url,
    maxConcurrentTasks: r.max_concurrent_tasks, drain: r.drain, storageNonce: r.storage_nonce,
    storageReport: r.storage_report, startedAt: r.started_at, stoppedAt: r.stopped_at, lastSeen: r.last_seen,
    online: r.online, runningTasks: r.running_tasks,
  };
}

/** Offline threshold used when the caller has none (CLI commands that only read). */
export const DEFAULT_OFFLINE_THRESHOLD_MS = 10_000;

// Liveness is decided by the database alone: the node's session advisory lock must be held
// (it vanishes the moment the node's connection dies) and its heartbeat must be recent by the
// database's clock (covers a node cut off from the network whose lock PostgreSQL still holds).
/** SQL that is true while the process of node row `n` holds its session advisory lock. */
export const NODE_LOCK_HELD = `EXISTS (SELECT 1 FROM pg_locks l
  WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
    AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
    AND l.classid = ${NODE_LOCK_NAMESPACE} AND l.objid = n.lock_key)`;

const SELECT_NODES = `
  SELECT n.*,
    (n.stopped_at IS NULL AND n.last_seen > now() - make_interval(secs => $1::double precision / 1000)
      AND ${NODE_LOCK_HELD}) AS online,
    (SELECT count(*)::int FROM server_tasks t WHERE t.server_node = n.id AND t.state IN ('Executing', 'Cancelling')) AS running_tasks
  FROM nodes n`;

export async function listNodes(db: Queryable, offlineThresholdMs = DEFAULT_OFFLINE_THRESHOLD_MS): Promise<NodeRow[]> {
  const r = await db.query<RawNode>(`${SELECT_NODES} ORDER BY n.name`, [offlineThresholdMs]);
  return r.rows.map(toNode);
}

export async function getNode(db: Queryable, idOrName: string, offlineThresholdMs = DEFAULT_OFFLINE_THRESHOLD_MS): Promise<NodeRow | undefined> {
  const r = await db.query<RawNode>(`${SELECT_NODES} WHERE n.id = $2 OR n.name = $2`, [offlineThresholdMs, idOrName]);
  const row = r.rows[0];
  return row ? toNode(row) : undefined;
}

/** A node of that name whose process still holds its advisory lock. */
export async function liveNodeNamed(db: Queryable, name: string): Promise<NodeRow | undefined> {
  const r = await db.query<RawNode>(`SELECT * FROM (${SELECT_NODES}) x WHERE x.name = $2`, [1e12, name]);
  const row = r.rows[0];
  return row && row.online ? toNode(row) : undefined;
}

export async function ensureNodeRow(db: Queryable, name: string, version: string): Promise<void> {
  await db.query(
    `INSERT INTO nodes (id, name, version) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING`,
    [nodeId(name), name, version]);
}

export interface NodeChanges { readonly maxConcurrentTasks?: number; readonly drain?: boolean }

export async function updateNode(db: Queryable, id: string, changes: NodeChanges): Promise<boolean> {
  const r = await db.query(
    `UPDATE nodes SET max_concurrent_tasks = coalesce($2, max_concurrent_tasks), drain = coalesce($3, drain)
     WHERE id = $1 OR name = $1`,
    [id, changes.maxConcurrentTasks ?? null, changes.drain ?? null]);
  if ((r.rowCount ?? 0) > 0) await db.query(`SELECT pg_notify('cuttle_nodes', $1)`, [id]);
  return (r.rowCount ?? 0) > 0;
}

export async function deleteNode(db: Queryable, id: string): Promise<void> {
  await db.query('DELETE FROM nodes WHERE id = $1', [id]);
}
