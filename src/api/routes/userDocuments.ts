import { InputError } from '../../errors.js';
import type { UserInput } from '../../auth/manage.js';
import type { User } from '../../auth/users.js';

/** Octopus's UserResource. The password is never part of it. */
export function userResource(u: User, caller: User | undefined): object {
  return {
    Id: u.id,
    Username: u.username,
    DisplayName: u.displayName,
    EmailAddress: u.email,
    IsActive: u.isActive,
    IsService: u.isService,
    CanPasswordBeEdited: !u.isService,
    IsRequestor: caller?.id === u.id,
    Identities: [],
    LastModifiedOn: u.modifiedOn.toISOString(),
    LastModifiedBy: u.modifiedBy,
    Links: { Self: `/api/users/${u.id}`, ApiKeys: `/api/users/${u.id}/apikeys{/id}{?skip,take}` },
  };
}

const FIELDS = {
  Username: 'string', DisplayName: 'string', EmailAddress: 'string', IsActive: 'boolean', IsService: 'boolean', Password: 'string',
} as const;
type Field = keyof typeof FIELDS;

/**
 * Reads a user document (SPEC.md §5: property names bind case-insensitively). Fields Cuttle does
 * not take (Id, Links, Identities… of a document read back) are ignored; a field of the wrong type
 * is named. `Password: null` means "unchanged", as a document read back has none.
 */
export function userInput(body: unknown): UserInput {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new InputError('The request body must be a user document: a JSON object such as {"Username": "ada", "DisplayName": "Ada", "Password": "…"}.');
  }
  const byLower = new Map(Object.keys(FIELDS).map((k) => [k.toLowerCase(), k as Field]));
  const values: Partial<Record<Field, unknown>> = {};
  for (const [k, v] of Object.entries(body)) {
    const field = byLower.get(k.toLowerCase());
    if (field) values[field] = v;
  }
  const errors: string[] = [];
  for (const [field, v] of Object.entries(values) as [Field, unknown][]) {
    if (v === null && (field === 'Password' || field === 'EmailAddress')) continue;
    if (typeof v !== FIELDS[field]) errors.push(`${field} must be a ${FIELDS[field] === 'string' ? 'string' : 'boolean (true or false)'}.`);
  }
  if (errors.length) throw new InputError('There was a problem with your request.', errors);
  const s = (f: Field) => values[f] as string | undefined;
  const b = (f: Field) => values[f] as boolean | undefined;
  return {
    ...(s('Username') !== undefined ? { username: s('Username') } : {}),
    ...(s('DisplayName') !== undefined ? { displayName: s('DisplayName') } : {}),
    ...(values.EmailAddress !== undefined ? { email: s('EmailAddress') ?? '' } : {}),
    ...(b('IsActive') !== undefined ? { isActive: b('IsActive') } : {}),
    ...(b('IsService') !== undefined ? { isService: b('IsService') } : {}),
    ...(values.Password !== undefined ? { password: s('Password') ?? null } : {}),
  };
}
