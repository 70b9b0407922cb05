import { InputError } from '../errors.js';

/** Timing of liveness and checks; validated once, frozen. */
export interface RuntimeOptions {
  readonly heartbeatMs: number;
  readonly offlineThresholdMs: number;
  readonly storageCheckMs: number;
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
  const heartbeatMs = seconds(env, 'CUTTLE_HEARTBEAT_SECONDS', 2, 0.1, 60);
  const offlineThresholdMs = seconds(env, 'CUTTLE_OFFLINE_THRESHOLD_SECONDS', 10, 0.5, 3600);
  if (offlineThresholdMs < 2 * heartbeatMs) {
    throw new InputError(`CUTTLE_OFFLINE_THRESHOLD_SECONDS must be at least twice CUTTLE_HEARTBEAT_SECONDS, or healthy nodes would look offline; raise it.`);
  }
  return Object.freeze({
    heartbeatMs,
    offlineThresholdMs,
    storageCheckMs: seconds(env, 'CUTTLE_STORAGE_CHECK_SECONDS', 30, 0.5, 3600),
  });
}
