import { Option, type Command } from 'commander';
import { readConfig, readMasterKeyFile, resolveHome, type NodeConfig } from '../config/home.js';
import { openPool, type Pool } from '../db/pool.js';
import { readSchemaState, assertCuttleDatabase, assertNotNewer } from '../db/migrate.js';
import { parseMasterKey, type MasterKey } from '../crypto/masterKey.js';
import { requireCluster, verifyMasterKey } from '../cluster/cluster.js';
import { UsageError } from '../errors.js';

export interface Out {
  line(text?: string): void;
  err(text: string): void;
}

export const stdio: Out = {
  line: (t = '') => process.stdout.write(t + '\n'),
  err: (t) => process.stderr.write(t + '\n'),
};

export function homeOption(cmd: Command): Command {
  return cmd.addOption(new Option('--home <dir>', 'the node\'s home directory (default $CUTTLE_HOME, else ~/.cuttle)'));
}

export function homeOf(opts: { home?: string }): string {
  return resolveHome(opts.home);
}

export interface HomeContext {
  readonly home: string;
  readonly config: NodeConfig;
  readonly key: MasterKey;
  readonly pool: Pool;
}

/**
 * Opens the cluster that this home belongs to, checking schema and master key before the
 * command touches anything. The caller ends the pool.
 */
export async function openHome(opts: { home?: string }, verifyKey = true): Promise<HomeContext> {
  const home = homeOf(opts);
  const config = readConfig(home);
  const key = parseMasterKey(readMasterKeyFile(home));
  const pool = await openPool(config.databaseUrl, { max: 3, applicationName: 'cuttle cli' });
  try {
    const state = await readSchemaState(pool);
    assertCuttleDatabase(state);
    assertNotNewer(state.version);
    const cluster = await requireCluster(pool);
    if (verifyKey) verifyMasterKey(cluster, key);
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw err;
  }
  return { home, config, key, pool };
}

export function parseBool(flag: string, v: string): boolean {
  if (v === 'true' || v === 'True' || v === '1') return true;
  if (v === 'false' || v === 'False' || v === '0') return false;
  throw new UsageError(`${flag} takes true or false (got "${v}").`);
}

export function parseNonNegativeInt(flag: string, v: string, max = 1000): number {
  if (!/^\d+$/.test(v) || Number(v) > max) throw new UsageError(`${flag} takes a whole number from 0 to ${max} (got "${v}").`);
  return Number(v);
}

export function formatChoice(flag: string, v: string | undefined): 'text' | 'json' {
  if (v === undefined || v === 'text') return 'text';
  if (v === 'json') return 'json';
  throw new UsageError(`${flag} takes text or json (got "${v}").`);
}

/**
 * The node itself (HTTP server, task engine, handlers and their schemas), loaded only by the
 * commands that run one: every other command starts in a fraction of the time.
 */
export function loadServer(): Promise<typeof import('../main.js')> {
  return import('../main.js');
}
