import { accessSync, constants, existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { PoolClient } from 'pg';
import { homeInsideShared } from '../storage/folders.js';
import { getSharedPaths, requireAbsolute, resolvePaths, setSharedPaths, type SharedPathSettings } from '../storage/sharedPaths.js';
import { ConflictError, EnvironmentError, errorMessage } from '../errors.js';
import { VERSION } from '../version.js';
import { configExists, isDirectory, parseListen, prepareHome, stageHomeFiles, validateNodeName, type NodeConfig } from '../config/home.js';
import { openPool, withTransaction, validateDatabaseUrl } from '../db/pool.js';
import { assertCuttleDatabase, assertNotNewer, migrate, readSchemaState } from '../db/migrate.js';
import { generateMasterKey, parseMasterKey } from '../crypto/masterKey.js';
import { createOrResetAdmin, validatePassword, validateUsername } from '../auth/users.js';
import { createCluster, joinCluster, refuseLiveName, requireCluster, verifyMasterKey, type NewCluster } from '../cluster/cluster.js';

export interface SetupInput {
  readonly home: string;
  readonly databaseUrl: string;
  readonly adminUsername: string;
  readonly adminPassword: string;
  readonly nodeName: string;
  readonly listen: string;
  readonly masterKey?: string;
  readonly clusterShared?: string;
  readonly embeddedPostgres?: NodeConfig['embeddedPostgres'];
  /** Container style: the home may already hold a config (it is rewritten). */
  readonly allowExistingHome?: boolean;
}

export interface SetupResult { readonly masterKey: string; readonly clusterShared: string }

function refuseConfiguredHome(home: string, allow: boolean | undefined): void {
  if (!allow && configExists(home)) {
    throw new EnvironmentError(`The home directory ${home} already belongs to a Cuttle node; run \`cuttle run --home ${home}\` to start it, or pass an empty --home.`);
  }
}

function requireUsableFolder(dir: string): void {
  if (!isDirectory(dir)) throw new EnvironmentError(`The shared folder ${dir} does not exist; create or mount it on every node, then try again.`);
  try {
    accessSync(dir, constants.R_OK | constants.W_OK | constants.X_OK);
  } catch (err) {
    throw new EnvironmentError(`The shared folder ${dir} is not readable and writable (${errorMessage(err)}); fix the share or its permissions, then try again.`);
  }
}

export interface NewClusterRows extends NewCluster {
  readonly adminUsername: string;
  readonly adminPassword: string;
  readonly sharedPaths: SharedPathSettings;
}

/**
 * Writes a new cluster in the caller's transaction: the cluster row and first node, its shared
 * paths and its administrator, each through the part that owns them (the cluster sits below
 * storage and auth, so it cannot write theirs). Returns the installation id.
 */
export async function writeNewCluster(c: PoolClient, n: NewClusterRows): Promise<string> {
  const installationId = await createCluster(c, { key: n.key, nodeName: n.nodeName, version: n.version });
  await setSharedPaths(c, n.sharedPaths);
  await createOrResetAdmin(c, n.adminUsername, n.adminPassword);
  return installationId;
}

/** Validates everything that can be validated without I/O, so a typo never leaves anything behind. */
function validateCommon(databaseUrl: string, nodeName: string, listen: string): void {
  validateDatabaseUrl(databaseUrl);
  validateNodeName(nodeName);
  parseListen(listen);
}

/** Creates a cluster: schema, master key check, admin, shared paths, first node; then the home files. */
export async function setupCluster(i: SetupInput): Promise<SetupResult> {
  validateCommon(i.databaseUrl, i.nodeName, i.listen);
  validateUsername(i.adminUsername);
  validatePassword(i.adminPassword);
  const keyText = i.masterKey ?? generateMasterKey();
  const key = parseMasterKey(keyText);
  const clusterShared = requireAbsolute('--cluster-shared', i.clusterShared ?? join(i.home, 'Shared'));
  // A given shared folder (CUTTLE_CLUSTER_SHARED) must be usable before the cluster is created with it.
  if (clusterShared !== join(i.home, 'Shared')) requireUsableFolder(clusterShared);
  refuseConfiguredHome(i.home, i.allowExistingHome);

  const pool = await openPool(i.databaseUrl, { max: 2, applicationName: 'cuttle setup' });
  try {
    const state = await readSchemaState(pool);
    assertCuttleDatabase(state);
    assertNotNewer(state.version);
    if (state.hasCluster) {
      throw new ConflictError('The database already holds a Cuttle cluster; add this server to it with `cuttle join --master-key …` instead of `setup`.');
    }
    // Only once the database is known to be usable, so a refused setup leaves no home behind.
    const homeExisted = existsSync(i.home);
    prepareHome(i.home);
    // The default shared folder (one node only, until `cuttle path` points at a real share) is ours to create.
    if (i.clusterShared === undefined || i.clusterShared === join(i.home, 'Shared')) mkdirSync(clusterShared, { recursive: true });
    await migrate(pool);
    const files = stageHomeFiles(i.home, {
      nodeName: i.nodeName, databaseUrl: i.databaseUrl, listen: i.listen,
      ...(i.embeddedPostgres ? { embeddedPostgres: i.embeddedPostgres } : {}),
    }, key.base64);
    try {
      await withTransaction(pool, (c) => writeNewCluster(c, {
        key, adminUsername: i.adminUsername, adminPassword: i.adminPassword, nodeName: i.nodeName, version: VERSION,
        sharedPaths: { clusterShared },
      }));
    } catch (err) {
      files.discard();
      // Lost a race with another setup (or failed): a home this call created goes again, whole.
      if (!homeExisted) rmSync(i.home, { recursive: true, force: true });
      throw err;
    }
    files.commit();
    return { masterKey: key.base64, clusterShared };
  } finally {
    await pool.end().catch(() => undefined);
  }
}

export interface JoinInput {
  readonly home: string;
  readonly databaseUrl: string;
  readonly masterKey: string;
  readonly nodeName: string;
  readonly listen: string;
  readonly allowExistingHome?: boolean;
}

/** Adds this node to an existing cluster; the key is verified before anything is written. */
export async function joinExisting(i: JoinInput): Promise<void> {
  validateCommon(i.databaseUrl, i.nodeName, i.listen);
  const key = parseMasterKey(i.masterKey);
  refuseConfiguredHome(i.home, i.allowExistingHome);
  const pool = await openPool(i.databaseUrl, { max: 2, applicationName: 'cuttle join' });
  try {
    const state = await readSchemaState(pool);
    assertCuttleDatabase(state);
    assertNotNewer(state.version);
    verifyMasterKey(await requireCluster(pool), key);
    await migrate(pool);
    // Checked again inside the transaction; checked here too so a refused join leaves no home behind.
    await refuseLiveName(pool, i.nodeName);
    const settings = await getSharedPaths(pool);
    const paths = resolvePaths(settings);
    const inside = paths ? homeInsideShared(i.home, paths, settings.clusterShared) : undefined;
    if (inside) {
      throw new EnvironmentError(`The home directory ${i.home} lies inside the cluster's shared storage (${inside}); a home is node-local, so pass a --home outside the shared folders.`);
    }
    prepareHome(i.home);
    const files = stageHomeFiles(i.home, { nodeName: i.nodeName, databaseUrl: i.databaseUrl, listen: i.listen }, key.base64);
    try {
      await withTransaction(pool, (c) => joinCluster(c, key, i.nodeName, VERSION));
    } catch (err) {
      files.discard();
      throw err;
    }
    files.commit();
  } finally {
    await pool.end().catch(() => undefined);
  }
}

export interface ContainerInput {
  readonly home: string;
  readonly databaseUrl: string;
  readonly masterKey?: string;
  readonly nodeName: string;
  readonly listen: string;
  readonly adminUsername?: string;
  readonly adminPassword?: string;
  readonly clusterShared?: string;
}

export interface ContainerResult {
  readonly created: boolean;
  readonly masterKey: string;
  readonly generatedAdminPassword?: string;
}

/**
 * `cuttle run` configured from the environment only: creates the cluster when the database is
 * new (the master key generated unless given), joins it otherwise (the key then mandatory).
 */
export async function bootstrapFromEnvironment(i: ContainerInput, generatePassword: () => string): Promise<ContainerResult> {
  validateCommon(i.databaseUrl, i.nodeName, i.listen);
  const pool = await openPool(i.databaseUrl, { max: 2, applicationName: 'cuttle bootstrap' });
  let hasCluster: boolean;
  try {
    const state = await readSchemaState(pool);
    assertCuttleDatabase(state);
    assertNotNewer(state.version);
    hasCluster = state.hasCluster;
  } finally {
    await pool.end().catch(() => undefined);
  }
  if (!hasCluster) {
    const password = i.adminPassword ?? generatePassword();
    try {
      const r = await setupCluster({
        home: i.home, databaseUrl: i.databaseUrl, adminUsername: i.adminUsername ?? 'admin', adminPassword: password,
        nodeName: i.nodeName, listen: i.listen, allowExistingHome: true,
        ...(i.masterKey ? { masterKey: i.masterKey } : {}),
        ...(i.clusterShared ? { clusterShared: i.clusterShared } : {}),
      });
      return { created: true, masterKey: r.masterKey, ...(i.adminPassword ? {} : { generatedAdminPassword: password }) };
    } catch (err) {
      // Another container created the cluster at the same moment: join it instead.
      if (!(err instanceof ConflictError)) throw err;
    }
  }
  if (!i.masterKey) {
    throw new EnvironmentError('The database already holds a Cuttle cluster, so CUTTLE_MASTER_KEY is required; set it to the key `cuttle show-master-key` prints on a node of the cluster.');
  }
  await joinExisting({ home: i.home, databaseUrl: i.databaseUrl, masterKey: i.masterKey, nodeName: i.nodeName, listen: i.listen, allowExistingHome: true });
  return { created: false, masterKey: parseMasterKey(i.masterKey).base64 };
}
