import type { Queryable } from '../db/pool.js';

// The auth part's SQL: users, API keys (only their hashes) and sessions. One function per
// statement; rows come back as stored (snake_case) and users.ts / sessions.ts map them.

export interface UserRecord { id: string; username: string; display_name: string; email: string; is_admin: boolean; is_active: boolean; password_hash: string | null }

/** User names match case-insensitively. */
export async function selectUserByName(db: Queryable, username: string): Promise<UserRecord | undefined> {
  const r = await db.query<UserRecord>('SELECT * FROM users WHERE lower(username) = lower($1)', [username]);
  return r.rows[0];
}

export async function selectActiveUserByName(db: Queryable, username: string): Promise<UserRecord | undefined> {
  const r = await db.query<UserRecord>('SELECT * FROM users WHERE lower(username) = lower($1) AND is_active', [username]);
  return r.rows[0];
}

export async function selectUser(db: Queryable, id: string): Promise<UserRecord | undefined> {
  const r = await db.query<UserRecord>('SELECT * FROM users WHERE id = $1', [id]);
  return r.rows[0];
}

/** Makes the user an active administrator; a null hash keeps its password. */
export async function promoteToAdmin(db: Queryable, id: string, passwordHash: string | null): Promise<UserRecord> {
  const r = await db.query<UserRecord>(
    `UPDATE users SET is_admin = true, is_active = true, password_hash = coalesce($2, password_hash) WHERE id = $1 RETURNING *`,
    [id, passwordHash]);
  return r.rows[0] as UserRecord;
}

export async function insertAdmin(db: Queryable, username: string, passwordHash: string): Promise<UserRecord> {
  const r = await db.query<UserRecord>(
    `INSERT INTO users (id, username, display_name, password_hash, is_admin)
     VALUES ('Users-' || nextval('users_seq'), $1, $1, $2, true) RETURNING *`,
    [username, passwordHash]);
  return r.rows[0] as UserRecord;
}

/** The active user an unexpired API key (by its hash) belongs to. */
export async function selectUserByApiKeyHash(db: Queryable, keyHash: string): Promise<UserRecord | undefined> {
  const r = await db.query<UserRecord>(
    `SELECT u.* FROM api_keys k JOIN users u ON u.id = k.user_id
     WHERE k.key_hash = $1 AND u.is_active AND (k.expires_at IS NULL OR k.expires_at > now())`,
    [keyHash]);
  return r.rows[0];
}

export interface StoredApiKey { id: string; user_id: string; purpose: string; created_at: Date }

/** Undefined when a key with that hash is already registered. */
export async function insertApiKey(db: Queryable, userId: string, purpose: string, keyHash: string): Promise<{ id: string; created_at: Date } | undefined> {
  const r = await db.query<{ id: string; created_at: Date }>(
    `INSERT INTO api_keys (id, user_id, purpose, key_hash) VALUES ('APIKeys-' || nextval('api_keys_seq'), $1, $2, $3)
     ON CONFLICT (key_hash) DO NOTHING RETURNING id, created_at`,
    [userId, purpose, keyHash]);
  return r.rows[0];
}

export async function selectApiKeyByHash(db: Queryable, keyHash: string): Promise<StoredApiKey | undefined> {
  const r = await db.query<StoredApiKey>(
    'SELECT id, user_id, purpose, created_at FROM api_keys WHERE key_hash = $1', [keyHash]);
  return r.rows[0];
}

export async function selectApiKeys(db: Queryable, userId: string): Promise<{ id: string; purpose: string; created_at: Date }[]> {
  const r = await db.query<{ id: string; purpose: string; created_at: Date }>(
    'SELECT id, purpose, created_at FROM api_keys WHERE user_id = $1 ORDER BY created_at', [userId]);
  return r.rows;
}

/** Returns when the session expires. */
export async function insertSession(db: Queryable, id: string, userId: string, days: number): Promise<Date> {
  const r = await db.query<{ expires_at: Date }>(
    `INSERT INTO sessions (id, user_id, expires_at) VALUES ($1, $2, now() + make_interval(days => $3)) RETURNING expires_at`,
    [id, userId, days]);
  return (r.rows[0] as { expires_at: Date }).expires_at;
}

/** The user of a session that is neither revoked nor expired. */
export async function selectSessionUser(db: Queryable, id: string): Promise<string | undefined> {
  const r = await db.query<{ user_id: string }>(
    'SELECT user_id FROM sessions WHERE id = $1 AND revoked_at IS NULL AND expires_at > now()', [id]);
  return r.rows[0]?.user_id;
}

export async function revokeSessionRow(db: Queryable, id: string): Promise<void> {
  await db.query('UPDATE sessions SET revoked_at = now() WHERE id = $1', [id]);
}

/** Every node clears its cached API-key sign-ins when this is notified (a key revoked, a user changed). */
export const AUTH_CHANNEL = 'cuttle_auth';

/** Tells every node to forget the credentials it cached; sent in the transaction of the change. */
export async function notifyAuthChanged(db: Queryable): Promise<void> {
  await db.query(`SELECT pg_notify('${AUTH_CHANNEL}', '')`);
}
