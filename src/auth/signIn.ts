import { setTimeout as sleep } from 'node:timers/promises';
import { withTransaction, type Pool } from '../db/pool.js';
import { InputError } from '../errors.js';
import { USERNAME_PATTERN, authenticatePassword, type User } from './users.js';
import {
  clearSignInFailures, countSignInFailures, insertSignInFailure, insertSignInLock, lockSignInName, pruneSignInFailures, selectSignInLock,
} from './queries.js';

/** How failed sign-ins are throttled; the same on every node (set the same environment on each). */
export interface SignInPolicy {
  /** Failed sign-ins of one user name, within `windowMs`, that lock it. */
  readonly maxFailures: number;
  readonly windowMs: number;
  /** How long a locked user name is refused, even with the right password. */
  readonly lockMs: number;
  /** From this many earlier failures in the window, a failure is answered `slowMs` later. */
  readonly slowAfter: number;
  readonly slowMs: number;
}

function whole(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < min || v > max) {
    throw new InputError(`${name}="${raw}" is not a number between ${min} and ${max}; fix or unset it.`);
  }
  return v;
}

/**
 * The sign-in policy from the environment, checked at start-up: CUTTLE_SIGN_IN_MAX_FAILURES (5),
 * CUTTLE_SIGN_IN_WINDOW_SECONDS (900) and CUTTLE_SIGN_IN_LOCKOUT_SECONDS (900).
 */
export function signInPolicy(env: NodeJS.ProcessEnv = process.env): SignInPolicy {
  return Object.freeze({
    maxFailures: Math.round(whole(env, 'CUTTLE_SIGN_IN_MAX_FAILURES', 5, 1, 1000)),
    windowMs: Math.round(whole(env, 'CUTTLE_SIGN_IN_WINDOW_SECONDS', 900, 1, 86_400) * 1000),
    lockMs: Math.round(whole(env, 'CUTTLE_SIGN_IN_LOCKOUT_SECONDS', 900, 0.5, 86_400) * 1000),
    slowAfter: 2,
    slowMs: 1000,
  });
}

export type SignInResult =
  | { readonly kind: 'ok'; readonly user: User }
  /** Wrong password, unknown, inactive or service user: all alike. `lockedUntil` when this failure locked the name. */
  | { readonly kind: 'failed'; readonly failures: number; readonly lockedUntil?: Date }
  /** Refused without looking at the password. */
  | { readonly kind: 'locked'; readonly until: Date; readonly lockedNow: boolean };

const PRUNE_EVERY_MS = 60_000;
let lastPrune = 0;

/**
 * Checks a password under the cluster-wide throttle. The attempt is counted as a failure before
 * the password is checked (and forgotten when it succeeds), under a lock on the user name, so
 * guesses sent in parallel through many nodes never get more than `maxFailures` password checks.
 * User names are counted lower-cased, whether or not such a user exists.
 */
export async function signIn(pool: Pool, policy: SignInPolicy, username: string, password: string, remoteAddress: string | null): Promise<SignInResult> {
  const name = username.toLowerCase();
  const gate = await withTransaction(pool, async (c) => {
    await lockSignInName(c, name);
    const until = await selectSignInLock(c, name);
    if (until) return { kind: 'locked', until, lockedNow: false } as const;
    const earlier = await countSignInFailures(c, name, policy.windowMs);
    // Reached only by attempts that were in flight together when the count hit the limit.
    if (earlier >= policy.maxFailures) return { kind: 'locked', until: await insertSignInLock(c, name, policy.lockMs), lockedNow: true } as const;
    await insertSignInFailure(c, name, remoteAddress);
    return { kind: 'go', earlier } as const;
  });
  if (gate.kind === 'locked') return gate;

  // Stored names are ASCII (USERNAME_PATTERN). Any other name is nobody's: looked up as itself,
  // the database's lower() could fold it onto a real one ('admİn') that the throttle above,
  // counting JavaScript's lower case, knows under another name. The dummy hash still runs.
  const user = await authenticatePassword(pool, USERNAME_PATTERN.test(username) ? username : '#', password);
  if (user) {
    await clearSignInFailures(pool, name);
    return { kind: 'ok', user };
  }
  const failures = await countSignInFailures(pool, name, policy.windowMs);
  let lockedUntil: Date | undefined;
  if (failures >= policy.maxFailures) {
    lockedUntil = await withTransaction(pool, async (c) => {
      await lockSignInName(c, name);
      return insertSignInLock(c, name, policy.lockMs);
    });
  }
  if (Date.now() - lastPrune > PRUNE_EVERY_MS) {
    lastPrune = Date.now();
    await pruneSignInFailures(pool, Math.max(policy.windowMs, 60_000));
  }
  // A guesser who keeps failing waits a little for each answer; a timer, so the node serves others meanwhile.
  if (gate.earlier >= policy.slowAfter) await sleep(policy.slowMs);
  return { kind: 'failed', failures, ...(lockedUntil ? { lockedUntil } : {}) };
}

/** Octopus's answer to a locked user name, with the wait. */
export function lockedMessage(until: Date, now = Date.now()): string {
  const seconds = Math.max(1, Math.ceil((until.getTime() - now) / 1000));
  const wait = seconds < 120 ? `${seconds} second${seconds === 1 ? '' : 's'}` : `${Math.ceil(seconds / 60)} minutes`;
  return `You have had too many failed login attempts in a short period of time. Please try again in ${wait}.`;
}
