import pg from 'pg';
import type { Logger } from 'pino';
import { DatabaseUnavailableError, EnvironmentError, errorMessage } from '../errors.js';

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
  /** How long a request may wait for a connection while the server is full or starting up (ms). */
  waitForServerMs?: number;
  /** Told (at most every 30 s) when the server refuses a new connection and requests wait. */
  log?: Pick<Logger, 'warn'>;
}

/**
 * SQLSTATEs with which a server refuses a new connection for the moment: 53300 too_many_connections
 * ("sorry, too many clients already", also a role's or database's connection limit) and 57P03
 * cannot_connect_now ("the database system is starting up").
 */
const SERVER_BUSY = new Set(['53300', '57P03']);

export function isServerBusy(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && SERVER_BUSY.has(code);
}

/** Socket-level failures: the server cannot be reached, or the connection to it broke. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN',
  'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL', 'CONNECT_TIMEOUT']);

/** node-postgres and pg-pool raise these without a code when a connection breaks or cannot be had in time. */
const CONNECTION_MESSAGES = /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Query read timeout|Cannot use a pool after calling end|Client was closed and is not queryable|connection timeout/i;

/**
 * True when the error says the database cannot take the request right now, rather than that the
 * request or the code is wrong: unreachable or refused, the connection broke, no connection could
 * be had in time, or a SQLSTATE of class 08 (connection exception), 53 (insufficient resources),
 * 57P (shutdown, crash, starting up) or 57014 (statement cancelled by a timeout or an administrator).
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof DatabaseUnavailableError) return true;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') {
      if (NETWORK_CODES.has(code)) return true;
      if (/^[0-9A-Z]{5}$/.test(code) && (code.startsWith('08') || code.startsWith('53') || code.startsWith('57P') || code === '57014')) return true;
    }
    if (e instanceof Error && !(e instanceof pg.DatabaseError) && CONNECTION_MESSAGES.test(e.message)) return true;
  }
  return false;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

type ConnectCallback = (err: Error | undefined, client: pg.PoolClient | undefined, done: (release?: unknown) => void) => void;

/**
 * A pool that waits when the server refuses a new connection because it is full or starting up,
 * instead of failing the request at once. For a second after a refusal the pool opens no new
 * connection: requests queue, first come first served, for the connections it already has (other
 * requests give them back within milliseconds) rather than knocking on a full server again and
 * again. The refused request itself tries again with growing, jittered pauses until
 * `waitForServerMs` has passed; only then does the server's refusal surface (as a 503).
 * `pool.query` goes through `connect` too (pg-pool calls this.connect), so every path waits.
 */
class WaitingPool extends pg.Pool {
  private lastWarning = -Infinity;
  private readonly configuredMax: number;
  private uncap: NodeJS.Timeout | undefined;

  // Not `log`: pg-pool has a method of that name (its debug output).
  constructor(config: pg.PoolConfig, private readonly waitForServerMs: number, private readonly logger?: Pick<Logger, 'warn'>) {
    super(config);
    this.configuredMax = config.max ?? 10;
    // A client that is checked out (a transaction under way) has no 'error' listener of pg-pool's:
    // when its connection breaks (the database stops), pg emits 'error' on it, and an 'error' event
    // without a listener kills the process. The query in flight still fails with the error.
    this.on('connect', (client: pg.PoolClient) => { client.on('error', () => undefined); });
  }

  override connect(): Promise<pg.PoolClient>;
  override connect(callback: ConnectCallback): void;
  override connect(callback?: ConnectCallback): Promise<pg.PoolClient> | void {
    const result = this.connectWaiting();
    if (!callback) return result;
    result.then((client) => callback(undefined, client, (release) => client.release(release as boolean | Error | undefined)),
      (err: Error) => callback(err, undefined, () => undefined));
  }

  private async connectWaiting(): Promise<pg.PoolClient> {
    const deadline = performance.now() + this.waitForServerMs;
    for (let attempt = 0; ; attempt++) {
      try {
        return await super.connect();
      } catch (err) {
        const left = deadline - performance.now();
        if (!isServerBusy(err) || left <= 0 || this.ending) throw err;
        if (attempt === 0) this.warnBusy(err);
        this.holdAtCurrentSize();
        // 25 ms doubling to 1 s, jittered so that nodes refused together do not come back together.
        const pause = Math.min(1000, 25 * 2 ** Math.min(attempt, 6)) * (0.5 + Math.random() / 2);
        await sleep(Math.min(pause, left));
      }
    }
  }

  /** pg-pool reads options.max at every checkout: lowered, it queues requests instead of connecting. */
  private holdAtCurrentSize(): void {
    if (this.totalCount < 1) return; // nothing to queue for: the retry itself must connect
    this.options.max = Math.min(this.options.max ?? this.configuredMax, this.totalCount);
    clearTimeout(this.uncap);
    this.uncap = setTimeout(() => { this.options.max = this.configuredMax; }, 1_000);
    this.uncap.unref();
  }

  private warnBusy(err: unknown): void {
    if (!this.logger || performance.now() - this.lastWarning < 30_000) return;
    this.lastWarning = performance.now();
    this.logger.warn({ err: errorMessage(err), poolSize: this.configuredMax, open: this.totalCount },
      `the database refused a new connection; requests wait up to ${this.waitForServerMs / 1000} s for one: run \`cuttle doctor\` to compare the cluster's connections with max_connections`);
  }
}

/** Opens a pool and proves it works with one round trip, so start-up fails early and clearly. */
export async function openPool(url: string, opts: PoolOptions = {}): Promise<Pool> {
  validateDatabaseUrl(url);
  const pool = new WaitingPool({
    connectionString: url,
    max: opts.max ?? 5, // callers pass their own: the node its setting, commands two or three
    application_name: opts.applicationName ?? 'cuttle',
    connectionTimeoutMillis: 10_000,
    // Keepalives start after 2 s of silence (the OS default is two hours), as on the node's own connections.
    keepAlive: true,
    keepAliveInitialDelayMillis: 2_000,
    idleTimeoutMillis: 30_000,
  }, opts.waitForServerMs ?? 10_000, opts.log);
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

/**
 * Settles with `work`, or rejects with a DatabaseUnavailableError once `ms` have passed: for
 * answers that must come quickly whatever the database does (a load balancer's ping).
 */
export async function withinMs<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DatabaseUnavailableError(`The database did not answer ${what} within ${ms} ms; check that PostgreSQL is up and reachable from this node.`)), ms);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
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
