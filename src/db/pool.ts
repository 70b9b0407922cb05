import pg from 'pg';
import { EnvironmentError, errorMessage } from '../errors.js';

export type Pool = pg.Pool;
export type Client = pg.PoolClient | pg.Client;
export type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>;

// Timestamps are handed around as ISO strings at the API boundary; parse timestamptz as Date.
pg.types.setTypeParser(20, (v) => Number(v)); // int8 (counts) as number: our counts stay far below 2^53

/** SQLSTATEs after which the same transaction may simply be tried again. */
const RETRYABLE = new Set([
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '08000', '08003', '08006', '08001', '08004',
]);

export function isRetryable(err: unknown): boolean {
  const code = (err as { code?: string } | null)?.code;
  return typeof code === 'string' && (RETRYABLE.has(code) || code === 'ECONNRESET' || code === 'ECONNREFUSED');
}

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '****';
    return u.toString();
  } catch {
    return '<unparseable database URL>';
  }
}

export function validateDatabaseUrl(url: string): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    // The text is not echoed: it may hold a password.
    throw new EnvironmentError('The database URL is not a valid URL (a password with special characters must be percent-encoded); give one like postgres://user:password@host:5432/cuttle.');
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    throw new EnvironmentError(`The database URL must start with postgres:// (got "${u.protocol}"); give one like postgres://user:password@host:5432/cuttle.`);
  }
}

/** Turns a connection failure into one sentence that names the problem and the fix. */
export function describeConnectError(err: unknown, url: string): EnvironmentError {
  const e = err as { code?: string; message?: string };
  const where = redactUrl(url);
  switch (e.code) {
    case 'ECONNREFUSED':
      return new EnvironmentError(`Cannot reach the database at ${where}: connection refused; check that PostgreSQL is running and the host and port are right.`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new EnvironmentError(`Cannot reach the database at ${where}: the host name does not resolve; check the host in the database URL.`);
    case 'ETIMEDOUT':
    case 'CONNECT_TIMEOUT':
      return new EnvironmentError(`Cannot reach the database at ${where}: the connection timed out; check the host, port and firewall.`);
    case '28P01':
    case '28000':
      return new EnvironmentError(`The database at ${where} refused the login (${e.message ?? 'authentication failed'}); check the user name and password in the database URL.`);
    case '3D000':
      return new EnvironmentError(`The database in ${where} does not exist (${e.message ?? ''}); create it first (createdb) or fix the database name.`);
    default:
      return new EnvironmentError(`Cannot use the database at ${where}: ${errorMessage(err)}; check the database URL and that the server accepts connections.`);
  }
}

export interface PoolOptions {
  max?: number;
  applicationName?: string;
}

/** Opens a pool and proves it works with one round trip, so start-up fails early and clearly. */
export async function openPool(url: string, opts: PoolOptions = {}): Promise<Pool> {
  validateDatabaseUrl(url);
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.max ?? 10,
    application_name: opts.applicationName ?? 'cuttle',
    connectionTimeoutMillis: 10_000,
    keepAlive: true,
    idleTimeoutMillis: 30_000,
  });
  // An idle client that loses its server emits 'error' on the pool; without a listener that kills the process.
  pool.on('error', () => undefined);
  try {
    const c = await pool.connect();
    c.release();
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw describeConnectError(err, url);
  }
  return pool;
}

/** A single dedicated connection (liveness, LISTEN), outside any pool. */
export async function openClient(url: string, applicationName: string): Promise<pg.Client> {
  validateDatabaseUrl(url);
  const client = new pg.Client({
    connectionString: url,
    application_name: applicationName,
    connectionTimeoutMillis: 10_000,
    // TCP keepalives so a silently vanished server (or we, from its side) is noticed in seconds.
    keepAlive: true,
    keepAliveInitialDelayMillis: 2_000,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    throw describeConnectError(err, url);
  }
  return client;
}

/** Runs fn in a transaction, retrying the whole transaction on retryable SQLSTATEs. */
export async function withTransaction<T>(pool: Pool, fn: (c: pg.PoolClient) => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const client = await pool.connect();
    let failure: unknown;
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      client.release();
      return result;
    } catch (err) {
      failure = err;
    }
    // A client whose ROLLBACK fails is broken: destroy it rather than return it to the pool.
    const rolledBack = await client.query('ROLLBACK').then(() => true, () => false);
    client.release(rolledBack ? undefined : true);
    if (attempt < attempts && isRetryable(failure)) {
      await new Promise((r) => setTimeout(r, 20 * attempt));
      continue;
    }
    throw failure;
  }
}
