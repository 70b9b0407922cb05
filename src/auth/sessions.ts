import type { Queryable } from '../db/pool.js';
import { sign, verifySignature, type MasterKey } from '../crypto/masterKey.js';
import { randomId } from '../crypto/secrets.js';

export const SESSION_COOKIE = 'OctopusIdentificationToken';
const SESSION_DAYS = 14;

/**
 * Session tokens are `<id>.<signature>`: the signature (a master-key-derived HMAC) lets any node
 * reject forgeries without a query; the sessions table makes logout take effect on every node.
 */
export async function createSession(db: Queryable, key: MasterKey, userId: string): Promise<{ token: string; expires: Date }> {
  const id = randomId(24);
  const r = await db.query<{ expires_at: Date }>(
    `INSERT INTO sessions (id, user_id, expires_at) VALUES ($1, $2, now() + make_interval(days => $3)) RETURNING expires_at`,
    [id, userId, SESSION_DAYS]);
  return { token: `${id}.${sign(key, id)}`, expires: (r.rows[0] as { expires_at: Date }).expires_at };
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
  const r = await db.query<{ user_id: string }>(
    'SELECT user_id FROM sessions WHERE id = $1 AND revoked_at IS NULL AND expires_at > now()', [id]);
  return r.rows[0]?.user_id;
}

export async function revokeSession(db: Queryable, key: MasterKey, token: string): Promise<void> {
  const id = sessionIdFromToken(key, token);
  if (id) await db.query('UPDATE sessions SET revoked_at = now() WHERE id = $1', [id]);
}
