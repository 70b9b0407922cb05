import type { Queryable } from '../db/pool.js';
import { deleteNodeRow, insertNode, notifyNodeChanged, selectNode, selectNodeByLock, selectNodes, updateNodeSettings, type NodeRecord, type StorageReport } from './queries.js';


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
  /** Seconds since its last heartbeat, by the database's clock; null before the first. */
  readonly heartbeatAgeSeconds: number | null;
}

function toNode(r: NodeRecord): NodeRow {
  return {
    id: r.id, name: r.name, lockKey: r.lock_key, epoch: r.epoch, version: r.version, listenUrl: r.listen_url,
    maxConcurrentTasks: r.max_concurrent_tasks, drain: r.drain, storageNonce: r.storage_nonce,
    storageReport: r.storage_report, startedAt: r.started_at, stoppedAt: r.stopped_at, lastSeen: r.last_seen,
    online: r.online, runningTasks: r.running_tasks,
    heartbeatAgeSeconds: r.heartbeat_age === null ? null : Math.max(0, r.heartbeat_age),
  };
}

export type NodeStatus = 'Running' | 'Drained' | 'Draining' | 'Offline';

/** What a node is doing, as the Nodes page names it: a drained node still finishes what it runs. */
export function nodeStatus(n: NodeRow): NodeStatus {
  if (!n.online) return 'Offline';
  if (n.drain) return n.runningTasks > 0 ? 'Draining' : 'Drained';
  return 'Running';
}

/** Offline threshold used when the caller has none (CLI commands that only read). */
export const DEFAULT_OFFLINE_THRESHOLD_MS = 10_000;

export async function listNodes(db: Queryable, offlineThresholdMs = DEFAULT_OFFLINE_THRESHOLD_MS): Promise<NodeRow[]> {
  return (await selectNodes(db, offlineThresholdMs)).map(toNode);
}

export async function getNode(db: Queryable, idOrName: string, offlineThresholdMs = DEFAULT_OFFLINE_THRESHOLD_MS): Promise<NodeRow | undefined> {
  const row = await selectNode(db, idOrName, offlineThresholdMs);
  return row ? toNode(row) : undefined;
}

/** A node of that name whose process still holds its advisory lock. */
export async function liveNodeNamed(db: Queryable, name: string): Promise<NodeRow | undefined> {
  const row = await selectNodeByLock(db, name);
  return row && row.online ? toNode(row) : undefined;
}

export async function ensureNodeRow(db: Queryable, name: string, version: string): Promise<void> {
  await insertNode(db, nodeId(name), name, version);
}

export interface NodeChanges { readonly maxConcurrentTasks?: number; readonly drain?: boolean }

export async function updateNode(db: Queryable, id: string, changes: NodeChanges): Promise<boolean> {
  const changed = await updateNodeSettings(db, id, changes.maxConcurrentTasks ?? null, changes.drain ?? null);
  if (changed > 0) await notifyNodeChanged(db, id);
  return changed > 0;
}

export async function deleteNode(db: Queryable, id: string): Promise<void> {
  await deleteNodeRow(db, id);
}
