import pg from 'pg';
import { withTransaction, type Pool } from '../db/pool.js';
import { ConflictError, InputError, NotFoundError } from '../errors.js';
import { hashPassword } from '../crypto/secrets.js';
import { USERNAME_PATTERN, passwordProblem, toUser, type User } from './users.js';
import {
  clearSignInFailures, countActiveAdmins, deleteUserRow, insertUser, lockUserForAdminChange, notifyAuthChanged, revokeUserSessions, selectUsers, updateUser,
  type UserFilter, type UserRecord,
} from './queries.js';

/** What a caller sends to create or change a user; an absent field is left as it is (or defaulted on create). */
export interface UserInput {
  readonly username?: string;
  readonly displayName?: string;
  readonly email?: string;
  readonly isActive?: boolean;
  readonly isService?: boolean;
  /** A new password; absent, null or empty keeps the current one (a document read back carries `Password: null`). */
  readonly password?: string | null;
}

/** Who is making the change, and through which session (kept when they change their own password). */
export interface Actor { readonly user: User; readonly sessionId: string | null }

const EMAIL = /^[^@\s]+@[^@\s]+$/;

function usernameProblem(u: string): string | undefined {
  return USERNAME_PATTERN.test(u) ? undefined : `Username "${u}" is not valid; use 1 to 64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit.`;
}

function fieldProblems(u: { username: string; displayName: string; email: string }): string[] {
  const errors: string[] = [];
  const bad = usernameProblem(u.username);
  if (bad) errors.push(bad);
  if (u.displayName.trim() === '' || u.displayName.length > 200) errors.push('DisplayName must hold 1 to 200 characters.');
  if (u.email !== '' && (u.email.length > 256 || !EMAIL.test(u.email))) errors.push(`EmailAddress "${u.email.slice(0, 100)}" is not an email address; give one like name@example.com, or leave it empty.`);
  return errors;
}

function duplicate(username: string): ConflictError {
  return new ConflictError(`A user named "${username}" already exists (user names ignore case); choose another Username.`);
}

function isUniqueViolation(err: unknown): boolean {
  return err instanceof pg.DatabaseError && err.code === '23505';
}

export async function listUsers(pool: Pool, f: UserFilter): Promise<{ items: User[]; total: number }> {
  const r = await selectUsers(pool, f);
  return { items: r.rows.map(toUser), total: r.total };
}

/** Creates a user who signs in with a password, or a service user (API keys only). Every problem named in one 400. */
export async function createUser(pool: Pool, input: UserInput, actor: Actor): Promise<User> {
  const username = input.username ?? '';
  const isService = input.isService ?? false;
  const fields = { username, displayName: input.displayName ?? username, email: input.email ?? '' };
  const errors = input.username === undefined ? ['Username is required.'] : fieldProblems(fields);
  const password = input.password ?? '';
  if (isService && password !== '') errors.push('A service user has no password and signs in with API keys only; remove Password, or set IsService to false.');
  if (!isService) {
    if (password === '') errors.push('Password is required for a user who signs in with one (at least 8 characters, not the user name); or set IsService to true for a user who signs in with API keys only.');
    else { const p = passwordProblem(password, username); if (p) errors.push(p); }
  }
  if (errors.length) throw new InputError('There was a problem with your request.', errors);
  const row = await insertUser(pool, {
    ...fields, isActive: input.isActive ?? true, isService, passwordHash: isService ? null : await hashPassword(password), by: actor.user.username,
  }).catch((err: unknown) => { throw isUniqueViolation(err) ? duplicate(username) : err; });
  if (!row) throw duplicate(username);
  return toUser(row);
}

/**
 * Changes a user. Refuses to deactivate yourself or the last active administrator. A user who
 * is deactivated, or becomes a service user, loses every session; a new password ends every
 * session but the caller's own, and unlocks the user name. Every node forgets the API keys it cached.
 */
export async function modifyUser(pool: Pool, id: string, input: UserInput, actor: Actor): Promise<User> {
  const newPassword = input.password ?? '';
  const hash = newPassword === '' ? undefined : await hashPassword(newPassword);
  return withTransaction(pool, async (c) => {
    const current = await lockUserForAdminChange(c, id);
    if (!current) throw new NotFoundError(`There is no user ${id}.`);
    const next = {
      username: input.username ?? current.username,
      displayName: input.displayName ?? current.display_name,
      email: input.email ?? current.email,
      isActive: input.isActive ?? current.is_active,
      isService: input.isService ?? current.is_service,
    };
    const errors = fieldProblems(next);
    if (newPassword !== '') {
      if (next.isService) errors.push('A service user has no password and signs in with API keys only; remove Password, or set IsService to false.');
      else { const p = passwordProblem(newPassword, next.username); if (p) errors.push(p); }
    } else if (!next.isService && current.is_service) {
      errors.push('A service user becoming one who signs in with a password needs a Password (at least 8 characters, not the user name).');
    }
    if (errors.length) throw new InputError('There was a problem with your request.', errors);
    if (!next.isActive && current.is_active) await refuseLosingAdmin(c, current, actor, 'deactivate');
    let row: UserRecord | undefined;
    try {
      row = await updateUser(c, id, { ...next, passwordHash: next.isService ? null : hash, by: actor.user.username });
    } catch (err) {
      throw isUniqueViolation(err) ? duplicate(next.username) : err;
    }
    if (!next.isActive || next.isService) await revokeUserSessions(c, id, null);
    else if (hash !== undefined) {
      await revokeUserSessions(c, id, actor.user.id === id ? actor.sessionId : null);
      // A new password lets a locked-out user back in at once.
      await clearSignInFailures(c, next.username.toLowerCase());
    }
    await notifyAuthChanged(c);
    return toUser(row!);
  });
}

/** Deletes a user with its API keys and sessions; never yourself or the last active administrator. */
export async function deleteUser(pool: Pool, id: string, actor: Actor): Promise<void> {
  await withTransaction(pool, async (c) => {
    const current = await lockUserForAdminChange(c, id);
    if (!current) throw new NotFoundError(`There is no user ${id}.`);
    await refuseLosingAdmin(c, current, actor, 'delete');
    await deleteUserRow(c, id);
    await notifyAuthChanged(c);
  });
}

async function refuseLosingAdmin(c: pg.PoolClient, target: UserRecord, actor: Actor, verb: 'deactivate' | 'delete'): Promise<void> {
  if (target.id === actor.user.id) {
    throw new InputError(`You cannot ${verb} your own user (${target.username}); ask another administrator to do it.`);
  }
  // Counted under the lock lockUserForAdminChange took: concurrent changes on other nodes wait for this one.
  if (target.is_admin && target.is_active && await countActiveAdmins(c) <= 1) {
    throw new ConflictError(`${target.username} is the last active administrator; make another one with \`cuttle admin --username U --password P\` first.`);
  }
}
