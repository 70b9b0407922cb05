import { randomUUID } from 'node:crypto';
import { ConflictError, EnvironmentError } from '../errors.js';
import { keyCheck, keyMatches, type MasterKey } from '../crypto/masterKey.js';
import { readSchemaState, assertCuttleDatabase } from '../db/migrate.js';
import type { PoolClient } from 'pg';
import type { Queryable } from '../db/pool.js';
import { ensureNodeRow, liveNodeNamed } from './nodes.js';
import { insertCluster, selectCluster } from './queries.js';

export interface ClusterRow { readonly installationId: string; readonly keyCheck: string }

export async function readCluster(db: Queryable): Promise<ClusterRow | undefined> {
  const state = await readSchemaState(db);
  assertCuttleDatabase(state);
  if (!state.hasCluster) return undefined;
  const row = await selectCluster(db);
  return row ? { installationId: row.installation_id, keyCheck: row.key_check } : undefined;
}

/** The cluster the node is meant to join, or a clear reason why there is none. */
export async function requireCluster(db: Queryable): Promise<ClusterRow> {
  const c = await readCluster(db);
  if (!c) {
    throw new EnvironmentError('The database holds no Cuttle cluster yet; create one with `cuttle setup` (or `cuttle start`) before joining nodes to it.');
  }
  return c;
}

export function verifyMasterKey(cluster: ClusterRow, key: MasterKey): void {
  if (!keyMatches(key, cluster.keyCheck)) {
    throw new EnvironmentError('The master key does not match this cluster; copy the key from a node of the cluster with `cuttle show-master-key` and try again.');
  }
}

export interface NewCluster {
  readonly key: MasterKey;
  readonly nodeName: string;
  readonly version: string;
}

/**
 * Creates the cluster row and the first node in the caller's transaction. What other parts keep
 * about a new cluster (its shared paths, its administrator) the caller writes in the same
 * transaction: the cluster sits below them and never imports them.
 */
export async function createCluster(c: PoolClient, n: NewCluster): Promise<string> {
  const installationId = randomUUID();
  if (!(await insertCluster(c, installationId, keyCheck(n.key)))) {
    throw new ConflictError('The database already holds a Cuttle cluster; add this server to it with `cuttle join --master-key …` instead of `setup`.');
  }
  await ensureNodeRow(c, n.nodeName, n.version);
  return installationId;
}

/** Registers a joining node after checking its key and that no live node uses the name. */
export async function joinCluster(c: PoolClient, key: MasterKey, nodeName: string, version: string): Promise<void> {
  const cluster = await requireCluster(c);
  verifyMasterKey(cluster, key);
  await refuseLiveName(c, nodeName);
  await ensureNodeRow(c, nodeName, version);
}

/** Refuses a node name that a live node of the cluster uses. */
export async function refuseLiveName(db: Queryable, nodeName: string): Promise<void> {
  const live = await liveNodeNamed(db, nodeName);
  if (live) {
    throw new ConflictError(`A live node named "${nodeName}" (${live.listenUrl || 'no listen URL'}) is already in the cluster; choose another --node-name.`);
  }
}
