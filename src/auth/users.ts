import type { Queryable } from '../db/pool.js';
import { InputError } from '../errors.js';
import { generateApiKey, hashApiKey, hashPassword, isApiKeyFormat, verifyPassword } from '../crypto/secrets.js';
import {
  clearSignInFailures, deleteApiKeyRow, insertAdmin, insertApiKey, notifyAuthChanged, promoteToAdmin, selectApiKeyByHash, selectApiKeys, selectPasswordUserByName,
  selectUser, selectUserByApiKeyHash, selectUserByName, type UserRecord,
} from './queries.js';

export interface User {
  readonly id: string;
  readonly username: string;
  readonly displayName: string;
  readonly email: string;
  readonly isAdmin: boolean;
  readonly isActive: boolean;
  /** Signs in with API keys only; has no password. */
  readonly isService: boolean;
  readonly modifiedOn: Date;
  readonly modifiedBy: string | null;
}

export function toUser(r: UserRecord): User {
  return {
    id: r.id, username: r.username, displayName: r.display_name, email: r.email, isAdmin: r.is_admin, isActive: r.is_active,
    isService: r.is_service, modifiedOn: r.modified_at, modifiedBy: r.modified_by,
  };
}

/** 1 to 64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit. */
export const USERNAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

export function validateUsername(u: string): string {
  if (!USERNAME_PATTERN.test(u)) {
    throw new InputError(`The user name "${u}" is not valid; use 1 to 64 letters, digits, '.', '_', '@' or '-'.`);
  }
  return u;
}

export function validatePassword(p: string): string {
  const problem = passwordProblem(p, undefined);
  if (problem) throw new InputError(problem);
  return p;
}

/**
 * The password rules, as one sentence when the password breaks one: 8 to 1024 characters, and not
 * the user name (in any case). Length is what protects against guessing; composition rules are not asked.
 */
export function passwordProblem(p: string, username: string | undefined): string | undefined {
  if (p.length < 8 || p.length > 1024) return 'The password must be 8 to 1024 characters long; choose a longer one.';
  if (username !== undefined && p.toLowerCase() === username.toLowerCase()) return 'The password must not be the user name; choose another password.';
  return undefined;
}

/**
 * Creates the administrator, or resets its password (and re-activates it) when it exists. Either
 * way its user name is unlocked: this is how an operator lets a locked-out administrator back in.
 */
export async function createOrResetAdmin(db: Queryable, username: string, password: string | undefined): Promise<{ user: User; created: boolean }> {
  validateUsername(username);
  const hash = password === undefined ? null : await hashPassword(validatePassword(password));
  const row = await selectUserByName(db, username);
  await clearSignInFailures(db, username.toLowerCase());
  if (row) {
    const user = toUser(await promoteToAdmin(db, row.id, hash));
    // A node may hold this user's keys in its cache with the old rights: every node forgets them.
    await notifyAuthChanged(db);
    return { user, created: false };
  }
  if (hash === null) {
    throw new InputError(`There is no user "${username}" yet; give --password to create it.`);
  }
  return { user: toUser(await insertAdmin(db, username, hash)), created: true };
}

/** The user, when the password is theirs and they may sign in with one (active, not a service user). */
export async function authenticatePassword(db: Queryable, username: string, password: string): Promise<User | undefined> {
  const row = await selectPasswordUserByName(db, username);
  // Hash even when the user is unknown (or inactive, or a service user without a password), so
  // response time does not reveal which user names exist.
  const ok = await verifyPassword(password, row?.password_hash ?? 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=');
  return row && ok ? toUser(row) : undefined;
}

export async function getUser(db: Queryable, id: string): Promise<User | undefined> {
  const row = await selectUser(db, id);
  return row ? toUser(row) : undefined;
}

export async function userByApiKey(db: Queryable, key: string): Promise<User | undefined> {
  if (!isApiKeyFormat(key)) return undefined;
  const row = await selectUserByApiKeyHash(db, hashApiKey(key));
  return row ? toUser(row) : undefined;
}

export interface ApiKeyRecord { readonly id: string; readonly userId: string; readonly purpose: string; readonly created: Date }

/** Stores an API key (given, or generated) for the user; only its hash is kept. */
export async function addApiKey(db: Queryable, userId: string, purpose: string, key = generateApiKey()): Promise<ApiKeyRecord & { apiKey: string }> {
  if (!isApiKeyFormat(key)) {
    throw new InputError('The API key must look like API- followed by 16 to 64 upper-case letters or digits; generate one with `POST /api/users/{id}/apikeys` or pick such a string.');
  }
  const row = await insertApiKey(db, userId, purpose, hashApiKey(key));
  if (!row) {
    const e = await selectApiKeyByHash(db, hashApiKey(key));
    if (e && e.user_id === userId) return { id: e.id, userId, purpose: e.purpose, created: e.created_at, apiKey: key };
    throw new InputError('That API key is already registered to another user; choose another key.');
  }
  return { id: row.id, userId, purpose, created: row.created_at, apiKey: key };
}

export async function listApiKeys(db: Queryable, userId: string): Promise<ApiKeyRecord[]> {
  return (await selectApiKeys(db, userId)).map((x) => ({ id: x.id, userId, purpose: x.purpose, created: x.created_at }));
}

/** Revokes one of the user's keys on every node at once; false when the user has no such key. */
export async function revokeApiKey(db: Queryable, userId: string, keyId: string): Promise<boolean> {
  const deleted = await deleteApiKeyRow(db, userId, keyId);
  if (deleted) await notifyAuthChanged(db);
  return deleted;
}
