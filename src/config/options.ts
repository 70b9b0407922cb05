import { InputError } from '../errors.js';

/** Timing of liveness and checks; validated once, frozen. */
export interface RuntimeOptions {
  readonly heartbeatMs: number;
  readonly offlineThresholdMs: number;
  readonly storageCheckMs: number;
  /** How long a node's advisory lock may be gone, its heartbeat stale, before its tasks are recovered. */
  readonly orphanGraceMs: number;
  readonly taskPollMs: number;
  readonly shutdownGraceMs: number;
  readonly retentionJobMs: number;
  readonly pruneJobMs: number;
  /** How often the cluster exports audit events older than their retention to EventExports. */
  readonly eventExportJobMs: number;
  /** How often each node appends a snapshot to its telemetry file in the shared Telemetry folder. */
  readonly telemetryMs: number;
  /** CUTTLE_DATABASE_POOL_SIZE when set; it overrides the config file's databasePoolSize. */
  readonly databasePoolSize?: number;
  /** CUTTLE_DATABASE_SESSION_URL when set; it overrides the config file's databaseSessionUrl. */
  readonly databaseSessionUrl?: string;
}

/**
 * Pooled connections per node. Each node also holds two dedicated connections (liveness and
 * notifications), so ten nodes need 10 × (5 + 2) = 70: they fit a stock max_connections of 100
 * with room left for the superuser reserve, psql, backups, monitoring and `cuttle` commands.
 */
export const DEFAULT_DATABASE_POOL_SIZE = 5;
/** Below 2 a request that needs a second connection while holding one would wait for itself. */
export const MIN_DATABASE_POOL_SIZE = 2;
export const MAX_DATABASE_POOL_SIZE = 200;

export function validPoolSize(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= MIN_DATABASE_POOL_SIZE && v <= MAX_DATABASE_POOL_SIZE;
}

function poolSize(env: NodeJS.ProcessEnv): number | undefined {
  const raw = env.CUTTLE_DATABASE_POOL_SIZE;
  if (raw === undefined || raw === '') return undefined;
  const v = /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
  if (!validPoolSize(v)) {
    throw new InputError(`CUTTLE_DATABASE_POOL_SIZE="${raw}" is not a whole number from ${MIN_DATABASE_POOL_SIZE} to ${MAX_DATABASE_POOL_SIZE}; fix or unset it (the default is ${DEFAULT_DATABASE_POOL_SIZE} pooled connections per node).`);
  }
  return v;
}

export interface PoolSize {
  readonly size: number;
  /** Where the size came from, for log lines and doctor: the variable, the config file or the default. */
  readonly setBy: string;
  readonly smallest: number;
}

/** The node's pool size: the environment overrides the home's config file, which overrides the default. */
export function databasePoolSize(config: { readonly databasePoolSize?: number }, options: Pick<RuntimeOptions, 'databasePoolSize'>): PoolSize {
  const smallest = MIN_DATABASE_POOL_SIZE;
  if (options.databasePoolSize !== undefined) return { size: options.databasePoolSize, setBy: 'CUTTLE_DATABASE_POOL_SIZE', smallest };
  if (config.databasePoolSize !== undefined) return { size: config.databasePoolSize, setBy: 'databasePoolSize in the config file', smallest };
  return { size: DEFAULT_DATABASE_POOL_SIZE, setBy: 'the default', smallest };
}

function seconds(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback * 1000;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < min || v > max) {
    throw new InputError(`${name}="${raw}" is not a number of seconds between ${min} and ${max}; fix or unset it.`);
  }
  return Math.round(v * 1000);
}

export function runtimeOptions(env: NodeJS.ProcessEnv = process.env): RuntimeOptions {
  const heartbeatMs = seconds(env, 'CUTTLE_HEARTBEAT_SECONDS', 1, 0.1, 60);
  const offlineThresholdMs = seconds(env, 'CUTTLE_OFFLINE_THRESHOLD_SECONDS', 10, 0.5, 3600);
  if (offlineThresholdMs < 2 * heartbeatMs) {
    throw new InputError(`CUTTLE_OFFLINE_THRESHOLD_SECONDS must be at least twice CUTTLE_HEARTBEAT_SECONDS, or healthy nodes would look offline; raise it.`);
  }
  const pool = poolSize(env);
  return Object.freeze({
    heartbeatMs,
    offlineThresholdMs,
    storageCheckMs: seconds(env, 'CUTTLE_STORAGE_CHECK_SECONDS', 30, 0.5, 3600),
    // A node whose lock vanished is dead, or saw its connection drop and stops its scripts within
    // its probe (at most a quarter heartbeat, 250 ms): its tasks move this long after a recovery
    // run first saw the lock gone, so within a second of a kill -9 and never beside the old run.
    orphanGraceMs: Math.round(heartbeatMs * 0.4),
    taskPollMs: seconds(env, 'CUTTLE_TASK_POLL_SECONDS', 5, 0.1, 600),
    shutdownGraceMs: seconds(env, 'CUTTLE_SHUTDOWN_GRACE_SECONDS', 10, 0, 3600),
    retentionJobMs: seconds(env, 'CUTTLE_RETENTION_JOB_SECONDS', 3600, 0.5, 86_400),
    pruneJobMs: seconds(env, 'CUTTLE_PRUNE_JOB_SECONDS', 3600, 0.5, 86_400),
    eventExportJobMs: seconds(env, 'CUTTLE_EVENT_EXPORT_SECONDS', 3600, 0.5, 86_400),
    telemetryMs: seconds(env, 'CUTTLE_TELEMETRY_SECONDS', 60, 0.5, 3600),
    ...(pool === undefined ? {} : { databasePoolSize: pool }),
    ...(env.CUTTLE_DATABASE_SESSION_URL ? { databaseSessionUrl: env.CUTTLE_DATABASE_SESSION_URL } : {}),
  });
}

/**
 * The URL of the node's two dedicated connections (liveness holds a session advisory lock, the
 * notification connection LISTENs): they need a session of their own on the server, so behind a
 * pooler in transaction mode (PgBouncer) they must go to PostgreSQL directly or to a session-mode
 * pool. The environment overrides the config file; by default they use the pool's URL.
 */
export function databaseSessionUrl(config: { readonly databaseUrl: string; readonly databaseSessionUrl?: string }, options: Pick<RuntimeOptions, 'databaseSessionUrl'>): string {
  return options.databaseSessionUrl ?? config.databaseSessionUrl ?? config.databaseUrl;
}
