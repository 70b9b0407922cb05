import { timingSafeEqual } from 'node:crypto';
import type { Queryable } from '../db/pool.js';
import { sign, verifySignature, type MasterKey } from '../crypto/masterKey.js';
import { randomId } from '../crypto/secrets.js';
import { insertSession, revokeSessionRow, selectSessionUser } from './queries.js';
import { toUser, type User } from './users.js';

export const SESSION_COOKIE = 'OctopusIdentificationToken';
/** Octopus's anti-forgery cookie: readable by the portal's script, which echoes it in CSRF_HEADER. */
export const CSRF_COOKIE = 'Octopus-Csrf-Token';
export const CSRF_HEADER = 'X-Octopus-Csrf-Token';
const SESSION_DAYS = 14;

export interface NewSession { readonly token: string; readonly csrfToken: string; readonly expires: Date }

/**
 * Session tokens are `<id>.<signature>`: the signature (a master-key-derived HMAC) lets any node
 * reject forgeries without a query; the sessions table makes logout take effect on every node.
 */
export async function createSession(db: Queryable, key: MasterKey, userId: string): Promise<NewSession> {
  const id = randomId(24);
  const expires = await insertSession(db, id, userId, SESSION_DAYS);
  return { token: `${id}.${sign(key, id)}`, csrfToken: csrfTokenFor(key, id), expires };
}

export function sessionIdFromToken(key: MasterKey, token: string): string | undefined {
  const dot = token.indexOf('.');
  if (dot <= 0) return undefined;
  const id = token.slice(0, dot);
  return verifySignature(key, id, token.slice(dot + 1)) ? id : undefined;
}

/** The active user of a live session; an inactive user's sessions end at once, on every node. */
export async function sessionUser(db: Queryable, key: MasterKey, token: string): Promise<User | undefined> {
  const id = sessionIdFromToken(key, token);
  if (!id) return undefined;
  const row = await selectSessionUser(db, id);
  return row ? toUser(row) : undefined;
}

export async function revokeSession(db: Queryable, key: MasterKey, token: string): Promise<void> {
  const id = sessionIdFromToken(key, token);
  if (id) await revokeSessionRow(db, id);
}

/**
 * The anti-forgery token of a session: an HMAC of its id under the master key, so every node
 * checks it without a query. Its own prefix keeps it from ever equalling a session signature, so
 * the readable cookie tells nothing about the HttpOnly one.
 */
function csrfTokenFor(key: MasterKey, sessionId: string): string {
  return sign(key, `csrf ${sessionId}`);
}

/** Whether `given` is the anti-forgery token of the session `token` belongs to. */
export function csrfTokenMatches(key: MasterKey, token: string, given: string): boolean {
  const id = sessionIdFromToken(key, token);
  if (!id) return false;
  const expected = Buffer.from(csrfTokenFor(key, id));
  const actual = Buffer.from(given);
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
