import type { Queryable } from '../db/pool.js';

// The auth part's SQL: users, API keys (only their hashes) and sessions. One function per
// statement; rows come back as stored (snake_case) and users.ts / sessions.ts map them.

export interface UserRecord {
  id: string; username: string; display_name: string; email: string; is_admin: boolean; is_active: boolean; is_service: boolean;
  password_hash: string | null; modified_at: Date; modified_by: string | null;
}

/** User names match case-insensitively. */
export async function selectUserByName(db: Queryable, username: string): Promise<UserRecord | undefined> {
  const r = await db.query<UserRecord>('SELECT * FROM users WHERE lower(username) = lower($1)', [username]);
  return r.rows[0];
}

/** The user who may sign in with a password: active, and not a service user. */
export async function selectPasswordUserByName(db: Queryable, username: string): Promise<UserRecord | undefined> {
  const r = await db.query<UserRecord>('SELECT * FROM users WHERE lower(username) = lower($1) AND is_active AND NOT is_service', [username]);
  return r.rows[0];
}

export async function selectUser(db: Queryable, id: string): Promise<UserRecord | undefined> {
  const r = await db.query<UserRecord>('SELECT * FROM users WHERE id = $1', [id]);
  return r.rows[0];
}

/** Makes the user an active administrator who signs in with a password; a null hash keeps its password. */
export async function promoteToAdmin(db: Queryable, id: string, passwordHash: string | null): Promise<UserRecord> {
  const r = await db.query<UserRecord>(
    `UPDATE users SET is_admin = true, is_active = true, is_service = false, password_hash = coalesce($2, password_hash),
       modified_at = now(), modified_by = NULL
     WHERE id = $1 RETURNING *`,
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

/** The active user of a session that is neither revoked nor expired (one query on every request). */
export async function selectSessionUser(db: Queryable, id: string): Promise<UserRecord | undefined> {
  const r = await db.query<UserRecord>(
    `SELECT u.* FROM sessions s JOIN users u ON u.id = s.user_id
     WHERE s.id = $1 AND s.revoked_at IS NULL AND s.expires_at > now() AND u.is_active`, [id]);
  return r.rows[0];
}

export async function revokeSessionRow(db: Queryable, id: string): Promise<void> {
  await db.query('UPDATE sessions SET revoked_at = now() WHERE id = $1', [id]);
}

/** Ends every session of the user but `keep` (the caller's own, when it changes its own password). */
export async function revokeUserSessions(db: Queryable, userId: string, keep: string | null): Promise<void> {
  await db.query(
    'UPDATE sessions SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL AND id IS DISTINCT FROM $2', [userId, keep]);
}

/** Every node clears its cached API-key sign-ins when this is notified (a key revoked, a user changed). */
export const AUTH_CHANNEL = 'cuttle_auth';

/** Tells every node to forget the credentials it cached; sent in the transaction of the change. */
export async function notifyAuthChanged(db: Queryable): Promise<void> {
  await db.query(`SELECT pg_notify('${AUTH_CHANNEL}', '')`);
}

// ---- User management

/** First key of the transaction lock that serialises changes to who is an active administrator ("CTLU"). */
const USER_ADMIN_LOCK = 0x4354_4c55;
/** First key of the per-user-name transaction locks of sign-in attempts ("CTLS"); the second is a hash of the name. */
const SIGN_IN_LOCK = 0x4354_4c53;

export interface UserFilter { readonly skip: number; readonly take: number; readonly ids: readonly string[]; readonly filter?: string }

/** A page of users by user name (byte order, the same on every server), and how many match, in one statement (one snapshot). */
export async function selectUsers(db: Queryable, f: UserFilter): Promise<{ rows: UserRecord[]; total: number }> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (f.ids.length) { params.push(f.ids); where.push(`id = ANY($${params.length})`); }
  if (f.filter) {
    params.push(f.filter.toLowerCase());
    where.push(`(strpos(lower(username), $${params.length}) > 0 OR strpos(lower(display_name), $${params.length}) > 0 OR strpos(lower(email), $${params.length}) > 0)`);
  }
  const w = where.length ? `WHERE ${where.join(' AND ')}` : '';
  const r = await db.query<UserRecord & { total_count: number }>(
    `WITH page AS (SELECT * FROM users ${w} ORDER BY lower(username) COLLATE "C", id OFFSET ${f.skip} LIMIT ${f.take}),
       total AS (SELECT count(*)::int AS n FROM users ${w})
     SELECT page.*, total.n AS total_count FROM total LEFT JOIN page ON true ORDER BY lower(page.username) COLLATE "C", page.id`, params);
  return { rows: r.rows.filter((row) => row.id !== null), total: r.rows[0]?.total_count ?? 0 };
}

export interface NewUserRecord {
  readonly username: string; readonly displayName: string; readonly email: string;
  readonly isActive: boolean; readonly isService: boolean; readonly passwordHash: string | null; readonly by: string | null;
}

/** Undefined when the user name (ignoring case) is taken. */
export async function insertUser(db: Queryable, u: NewUserRecord): Promise<UserRecord | undefined> {
  const r = await db.query<UserRecord>(
    `INSERT INTO users (id, username, display_name, email, is_active, is_service, password_hash, modified_by)
     VALUES ('Users-' || nextval('users_seq'), $1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (lower(username)) DO NOTHING RETURNING *`,
    [u.username, u.displayName, u.email, u.isActive, u.isService, u.passwordHash, u.by]);
  return r.rows[0];
}

export interface UserChange {
  readonly username: string; readonly displayName: string; readonly email: string; readonly isActive: boolean; readonly isService: boolean;
  /** A new hash; undefined keeps the password, null removes it (a service user has none). */
  readonly passwordHash: string | null | undefined; readonly by: string | null;
}

/** The user as changed; undefined when there is no such user. A taken user name fails on the unique index (23505). */
export async function updateUser(db: Queryable, id: string, c: UserChange): Promise<UserRecord | undefined> {
  const r = await db.query<UserRecord>(
    `UPDATE users SET username = $2, display_name = $3, email = $4, is_active = $5, is_service = $6,
       password_hash = CASE WHEN $7 THEN $8 ELSE password_hash END, modified_at = now(), modified_by = $9
     WHERE id = $1 RETURNING *`,
    [id, c.username, c.displayName, c.email, c.isActive, c.isService, c.passwordHash !== undefined, c.passwordHash ?? null, c.by]);
  return r.rows[0];
}

export async function deleteUserRow(db: Queryable, id: string): Promise<boolean> {
  const r = await db.query('DELETE FROM users WHERE id = $1', [id]);
  return r.rowCount === 1;
}

/**
 * Takes the lock every change to an active administrator holds until its transaction ends, then
 * returns the user row as it is now: two administrators deactivating each other on two nodes at
 * once cannot both pass the "last active administrator" check.
 */
export async function lockUserForAdminChange(db: Queryable, id: string): Promise<UserRecord | undefined> {
  await db.query('SELECT pg_advisory_xact_lock($1, 0)', [USER_ADMIN_LOCK]);
  return selectUser(db, id);
}

export async function countActiveAdmins(db: Queryable): Promise<number> {
  const r = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM users WHERE is_admin AND is_active');
  return r.rows[0]?.n ?? 0;
}

/** False when the user has no such key. */
export async function deleteApiKeyRow(db: Queryable, userId: string, keyId: string): Promise<boolean> {
  const r = await db.query('DELETE FROM api_keys WHERE user_id = $1 AND id = $2', [userId, keyId]);
  return r.rowCount === 1;
}

// ---- Sign-in throttling (counted in the database, so across every node)

/** Serialises the attempts at one user name until the transaction ends. */
export async function lockSignInName(db: Queryable, username: string): Promise<void> {
  await db.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [SIGN_IN_LOCK, username]);
}

/** When the name is locked now, until when. */
export async function selectSignInLock(db: Queryable, username: string): Promise<Date | undefined> {
  const r = await db.query<{ locked_until: Date }>('SELECT locked_until FROM sign_in_locks WHERE username = $1 AND locked_until > now()', [username]);
  return r.rows[0]?.locked_until;
}

export async function countSignInFailures(db: Queryable, username: string, windowMs: number): Promise<number> {
  const r = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM sign_in_failures WHERE username = $1 AND failed_at > now() - make_interval(secs => $2)`,
    [username, windowMs / 1000]);
  return r.rows[0]?.n ?? 0;
}

export async function insertSignInFailure(db: Queryable, username: string, remoteAddress: string | null): Promise<void> {
  await db.query('INSERT INTO sign_in_failures (username, remote_address) VALUES ($1, $2)', [username, remoteAddress]);
}

/** Locks the name for `lockMs` from now and forgets its failures (they are spent: after the lock, a fresh count). */
export async function insertSignInLock(db: Queryable, username: string, lockMs: number): Promise<Date> {
  await db.query('DELETE FROM sign_in_failures WHERE username = $1', [username]);
  const r = await db.query<{ locked_until: Date }>(
    `INSERT INTO sign_in_locks (username, locked_until) VALUES ($1, now() + make_interval(secs => $2))
     ON CONFLICT (username) DO UPDATE SET locked_at = now(), locked_until = EXCLUDED.locked_until RETURNING locked_until`,
    [username, lockMs / 1000]);
  return (r.rows[0] as { locked_until: Date }).locked_until;
}

/** A successful sign-in: the name's count starts again from zero. */
export async function clearSignInFailures(db: Queryable, username: string): Promise<void> {
  await db.query('DELETE FROM sign_in_failures WHERE username = $1', [username]);
  await db.query('DELETE FROM sign_in_locks WHERE username = $1', [username]);
}

/** Drops failures older than the window and locks that have ended, for every name. */
export async function pruneSignInFailures(db: Queryable, windowMs: number): Promise<void> {
  await db.query(`DELETE FROM sign_in_failures WHERE failed_at < now() - make_interval(secs => $1)`, [windowMs / 1000]);
  await db.query('DELETE FROM sign_in_locks WHERE locked_until < now()');
}
