import type { Queryable } from '../db/pool.js';
import { InputError } from '../errors.js';
import { generateApiKey, hashApiKey, hashPassword, isApiKeyFormat, verifyPassword } from '../crypto/secrets.js';

export interface User {
  readonly id: string;
  readonly username: string;
  readonly displayName: string;
  readonly email: string;
  readonly isAdmin: boolean;
  readonly isActive: boolean;
}

interface RawUser { id: string; username: string; display_name: string; email: string; is_admin: boolean; is_active: boolean; password_hash: string | null }

function toUser(r: RawUser): User {
  return { id: r.id, username: r.username, displayName: r.display_name, email: r.email, isAdmin: r.is_admin, isActive: r.is_active };
}

export function validateUsername(u: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/.test(u)) {
    throw new InputError(`The user name "${u}" is not valid; use 1 to 64 letters, digits, '.', '_', '@' or '-'.`);
  }
  return u;
}

export function validatePassword(p: string): string {
  if (p.length < 8 || p.length > 1024) {
    throw new InputError('The password must be 8 to 1024 characters long; choose a longer one.');
  }
  return p;
}

/** Creates the administrator, or resets its password (and re-activates it) when it exists. */
export async function createOrResetAdmin(db: Queryable, username: string, password: string | undefined): Promise<{ user: User; created: boolean }> {
  validateUsername(username);
  const hash = password === undefined ? null : await hashPassword(validatePassword(password));
  const existing = await db.query<RawUser>('SELECT * FROM users WHERE lower(username) = lower($1)', [username]);
  const row = existing.rows[0];
  if (row) {
    const r = await db.query<RawUser>(
      `UPDATE users SET is_admin = true, is_active = true, password_hash = coalesce($2, password_hash) WHERE id = $1 RETURNING *`,
      [row.id, hash]);
    return { user: toUser(r.rows[0] as RawUser), created: false };
  }
  if (hash === null) {
    throw new InputError(`There is no user "${username}" yet; give --password to create it.`);
  }
  const r = await db.query<RawUser>(
    `INSERT INTO users (id, username, display_name, password_hash, is_admin)
     VALUES ('Users-' || nextval('users_seq'), $1, $1, $2, true) RETURNING *`,
    [username, hash]);
  return { user: toUser(r.rows[0] as RawUser), created: true };
}

export async function authenticatePassword(db: Queryable, username: string, password: string): Promise<User | undefined> {
  const r = await db.query<RawUser>('SELECT * FROM users WHERE lower(username) = lower($1) AND is_active', [username]);
  const row = r.rows[0];
  // Hash even when the user is unknown, so response time does not reveal which user names exist.
  const ok = await verifyPassword(password, row?.password_hash ?? 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=');
  return row && ok ? toUser(row) : undefined;
}

export async function getUser(db: Queryable, id: string): Promise<User | undefined> {
  const r = await db.query<RawUser>('SELECT * FROM users WHERE id = $1', [id]);
  const row = r.rows[0];
  return row ? toUser(row) : undefined;
}

export async function userByApiKey(db: Queryable, key: string): Promise<User | undefined> {
  if (!isApiKeyFormat(key)) return undefined;
  const r = await db.query<RawUser>(
    `SELECT u.* FROM api_keys k JOIN users u ON u.id = k.user_id
     WHERE k.key_hash = $1 AND u.is_active AND (k.expires_at IS NULL OR k.expires_at > now())`,
    [hashApiKey(key)]);
  const row = r.rows[0];
  return row ? toUser(row) : undefined;
}

export interface ApiKeyRecord { readonly id: string; readonly userId: string; readonly purpose: string; readonly created: Date }

/** Stores an API key (given, or generated) for the user; only its hash is kept. */
export async function addApiKey(db: Queryable, userId: string, purpose: string, key = generateApiKey()): Promise<ApiKeyRecord & { apiKey: string }> {
  if (!isApiKeyFormat(key)) {
    throw new InputError('The API key must look like API- followed by 16 to 64 upper-case letters or digits; generate one with `POST /api/users/{id}/apikeys` or pick such a string.');
  }
  const r = await db.query<{ id: string; created_at: Date }>(
    `INSERT INTO api_keys (id, user_id, purpose, key_hash) VALUES ('APIKeys-' || nextval('api_keys_seq'), $1, $2, $3)
     ON CONFLICT (key_hash) DO NOTHING RETURNING id, created_at`,
    [userId, purpose, hashApiKey(key)]);
  const row = r.rows[0];
  if (!row) {
    const existing = await db.query<{ id: string; user_id: string; purpose: string; created_at: Date }>(
      'SELECT id, user_id, purpose, created_at FROM api_keys WHERE key_hash = $1', [hashApiKey(key)]);
    const e = existing.rows[0];
    if (e && e.user_id === userId) return { id: e.id, userId, purpose: e.purpose, created: e.created_at, apiKey: key };
    throw new InputError('That API key is already registered to another user; choose another key.');
  }
  return { id: row.id, userId, purpose, created: row.created_at, apiKey: key };
}

export async function listApiKeys(db: Queryable, userId: string): Promise<ApiKeyRecord[]> {
  const r = await db.query<{ id: string; purpose: string; created_at: Date }>(
    'SELECT id, purpose, created_at FROM api_keys WHERE user_id = $1 ORDER BY created_at', [userId]);
  return r.rows.map((x) => ({ id: x.id, userId, purpose: x.purpose, created: x.created_at }));
}
