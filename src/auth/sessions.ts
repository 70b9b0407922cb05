import type { Queryable } from '../db/pool.js';
import { sign, verifySignature, type MasterKey } from '../crypto/masterKey.js';
import { randomId } from '../crypto/secrets.js';
import { insertSession, revokeSessionRow, selectSessionUser } from './queries.js';

export const SESSION_COOKIE = 'OctopusIdentificationToken';
const SESSION_DAYS = 14;

/**
 * Session tokens are `<id>.<signature>`: the signature (a master-key-derived HMAC) lets any node
 * reject forgeries without a query; the sessions table makes logout take effect on every node.
 */
export async function createSession(db: Queryable, key: MasterKey, userId: string): Promise<{ token: string; expires: Date }> {
  const id = randomId(24);
  const expires = await insertSession(db, id, userId, SESSION_DAYS);
  return { token: `${id}.${sign(key, id)}`, expires };
}

export function sessionIdFromToken(key: MasterKey, token: string): string | undefined {
  const dot = token.indexOf('.');
  if (dot <= 0) return undefined;
  const id = token.slice(0, dot);
  return verifySignature(key, id, token.slice(dot + 1)) ? id : undefined;
}

export async function sessionUserId(db: Queryable, key: MasterKey, token: string): Promise<string | undefined> {
  const id = sessionIdFromToken(key, token);
  if (!id) return undefined;
  return selectSessionUser(db, id);
}

export async function revokeSession(db: Queryable, key: MasterKey, token: string): Promise<void> {
  const id = sessionIdFromToken(key, token);
  if (id) await revokeSessionRow(db, id);
}
