import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { EnvironmentError } from '../errors.js';
import { withTransaction, type Pool, type Queryable } from './pool.js';

const MIGRATIONS_DIR = fileURLToPath(new URL('../../../migrations/', import.meta.url));
/** Transaction-level advisory lock that serialises migrators of one database. */
const MIGRATION_LOCK = 0x4354_4c30; // "CTL0"

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

let cached: readonly Migration[] | undefined;

export function knownMigrations(): readonly Migration[] {
  if (cached) return cached;
  const list = readdirSync(MIGRATIONS_DIR)
    .filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((f) => Object.freeze({ version: Number(f.slice(0, 3)), name: f.replace(/\.sql$/, ''), sql: readFileSync(MIGRATIONS_DIR + f, 'utf8') }));
  cached = Object.freeze(list);
  return cached;
}

export function latestKnownVersion(): number {
  return knownMigrations().at(-1)?.version ?? 0;
}

export interface SchemaState {
  /** Highest migration applied, 0 for a database Cuttle never touched. */
  readonly version: number;
  /** Tables in the public schema that are not Cuttle's: the database belongs to another application. */
  readonly foreignTables: readonly string[];
  readonly hasCluster: boolean;
}

export async function readSchemaState(db: Queryable): Promise<SchemaState> {
  const tables = await db.query<{ table_name: string }>(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`);
  const names = tables.rows.map((r) => r.table_name);
  if (!names.includes('schema_migrations')) {
    return { version: 0, foreignTables: names, hasCluster: false };
  }
  const v = await db.query<{ v: number | null }>('SELECT max(version) AS v FROM schema_migrations');
  const version = v.rows[0]?.v ?? 0;
  let hasCluster = false;
  if (names.includes('cluster')) {
    const c = await db.query('SELECT 1 FROM cluster');
    hasCluster = (c.rowCount ?? 0) > 0;
  }
  return { version, foreignTables: [], hasCluster };
}

export function assertNotNewer(version: number): void {
  const known = latestKnownVersion();
  if (version > known) {
    throw new EnvironmentError(
      `The database schema is at version ${version} but this Cuttle only knows up to version ${known}; upgrade this node to the Cuttle version the rest of the cluster runs.`);
  }
}

export function assertCuttleDatabase(state: SchemaState): void {
  if (state.version === 0 && state.foreignTables.length > 0) {
    const shown = state.foreignTables.slice(0, 5).join(', ');
    throw new EnvironmentError(
      `The database already holds tables of another application (${shown}); give Cuttle an empty database of its own.`);
  }
}

export interface MigrationResult {
  readonly from: number;
  readonly to: number;
  readonly applied: readonly string[];
}

/**
 * Brings the schema up to date. Safe when many nodes start at once: every migrator takes the
 * same transaction-level advisory lock, so exactly one applies each migration and the others
 * find it done. Refuses a schema newer than this build and a database of another application.
 */
export async function migrate(pool: Pool): Promise<MigrationResult> {
  return withTransaction(pool, async (c) => {
    await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    const state = await readSchemaState(c);
    assertCuttleDatabase(state);
    assertNotNewer(state.version);
    await c.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const applied: string[] = [];
    for (const m of knownMigrations()) {
      if (m.version <= state.version) continue;
      // The row goes in first: a concurrent migrator that somehow got past the lock fails on the key.
      await c.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      await c.query(m.sql);
      applied.push(m.name);
    }
    return { from: state.version, to: Math.max(state.version, latestKnownVersion()), applied };
  });
}
