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
  return Object.freeze({
    heartbeatMs,
    offlineThresholdMs,
    storageCheckMs: seconds(env, 'CUTTLE_STORAGE_CHECK_SECONDS', 30, 0.5, 3600),
    // A node whose lock vanished is dead, or saw its connection drop and killed its scripts at once
    // (liveness 'lost'): half a heartbeat is time enough, and a dead node's tasks move within a second.
    orphanGraceMs: Math.round(heartbeatMs * 0.5),
    taskPollMs: seconds(env, 'CUTTLE_TASK_POLL_SECONDS', 5, 0.1, 600),
    shutdownGraceMs: seconds(env, 'CUTTLE_SHUTDOWN_GRACE_SECONDS', 10, 0, 3600),
    retentionJobMs: seconds(env, 'CUTTLE_RETENTION_JOB_SECONDS', 3600, 0.5, 86_400),
    pruneJobMs: seconds(env, 'CUTTLE_PRUNE_JOB_SECONDS', 3600, 0.5, 86_400),
  });
}
