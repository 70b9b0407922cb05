import { randomUUID } from 'node:crypto';
import { ConflictError, EnvironmentError } from '../errors.js';
import { keyCheck, keyMatches, type MasterKey } from '../crypto/masterKey.js';
import { readSchemaState, assertCuttleDatabase } from '../db/migrate.js';
import type { PoolClient } from 'pg';
import type { Queryable } from '../db/pool.js';
import { createOrResetAdmin } from '../auth/users.js';
import { setSharedPaths, type SharedPathSettings } from '../storage/sharedPaths.js';
import { ensureNodeRow, liveNodeNamed } from './nodes.js';

export interface ClusterRow { readonly installationId: string; readonly keyCheck: string }

export async function readCluster(db: Queryable): Promise<ClusterRow | undefined> {
  const state = await readSchemaState(db);
  assertCuttleDatabase(state);
  if (!state.hasCluster) return undefined;
  const r = await db.query<{ installation_id: string; key_check: string }>('SELECT installation_id, key_check FROM cluster WHERE id = 1');
  const row = r.rows[0];
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
  readonly adminUsername: string;
  readonly adminPassword: string;
  readonly nodeName: string;
  readonly version: string;
  readonly sharedPaths: SharedPathSettings;
}

/** Creates the cluster row, its shared paths, the admin and the first node, all in the caller's transaction. */
export async function createCluster(c: PoolClient, n: NewCluster): Promise<string> {
  const installationId = randomUUID();
  const inserted = await c.query(
    'INSERT INTO cluster (id, installation_id, key_check) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING',
    [installationId, keyCheck(n.key)]);
  if (inserted.rowCount !== 1) {
    throw new ConflictError('The database already holds a Cuttle cluster; add this server to it with `cuttle join --master-key …` instead of `setup`.');
  }
  await setSharedPaths(c, n.sharedPaths);
  await createOrResetAdmin(c, n.adminUsername, n.adminPassword);
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
