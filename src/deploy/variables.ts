// A project's variables: values scoped by environment (and channel, action), replaced whole by a PUT
// that carries the Version it read. Sensitive values are sealed with the master key before they
// reach the database, never returned (`Value: null`), and kept when a PUT sends their Id with a null
// value (the client read them back as null).
import { randomUUID } from 'node:crypto';
import { decrypt, encrypt, type MasterKey } from '../crypto/masterKey.js';
import { withTransaction, type Pool, type Queryable } from '../db/pool.js';
import { ConflictError, InputError, NotFoundError } from '../errors.js';
import { recordEvent } from './events.js';
import { selectProcess, selectVariableSet, updateVariableSet, type VariableSetRow } from './projectQueries.js';
import { TAKE_EVERYTHING, lockedIdsOf, selectScoped, selectScopedPage, type ScopedRow } from './queries.js';
import type { Actor } from './scoped.js';
import { channelTable, environmentTable, projectTable } from './tables.js';
import type { StepDoc } from './process.js';

export const SCOPE_KEYS = ['Environment', 'Channel', 'Action', 'Role', 'Machine', 'TenantTag', 'ProcessOwner'] as const;
export type ScopeKey = (typeof SCOPE_KEYS)[number];
export type Scope = Partial<Record<ScopeKey, string[]>>;

/** A variable as stored: `Sealed` holds a sensitive value (encrypted); `Value` is then null. */
export interface StoredVariable {
  Id: string;
  Name: string;
  Value: string | null;
  Sealed?: string;
  Description: string | null;
  Scope: Scope;
  IsEditable: boolean;
  Type: string;
  IsSensitive: boolean;
  Prompt: unknown;
}

export interface VariableInput {
  Id?: string | null;
  Name: string;
  Value?: string | null;
  Description?: string | null;
  Scope?: Scope;
  IsEditable?: boolean;
  Type?: string;
  IsSensitive?: boolean;
  Prompt?: unknown;
}

export interface VariableSetInput { Version?: number; Variables: VariableInput[] }

/** Why a variable name cannot be used, or undefined. */
export function variableNameProblem(name: string): string | undefined {
  if (!name.trim()) return 'is empty';
  if (name.includes('#{')) return 'contains "#{", which starts a substitution';
  if (name.includes('}')) return 'contains "}", which ends a substitution';
  return undefined;
}

/** The variables with their sensitive values opened (for a deployment to use and to mask). */
export function unsealed(key: MasterKey, variables: readonly StoredVariable[]): (StoredVariable & { Value: string })[] {
  return variables.map((v) => ({ ...v, Value: v.Sealed !== undefined ? decrypt(key, v.Sealed) : (v.Value ?? '') }));
}

async function check(db: Queryable, key: MasterKey, row: VariableSetRow, input: VariableSetInput, errors: string[]): Promise<StoredVariable[]> {
  const before = new Map((row.variables as StoredVariable[]).map((v) => [v.Id, v]));
  const ids = new Set<string>();
  const environments = new Set<string>();
  const channels = new Set<string>();
  const actions = new Set<string>();
  const out = input.Variables.map((v, i): StoredVariable => {
    const label = v.Name.trim() ? `Variable "${v.Name}"` : `Variable ${i + 1}`;
    const problem = variableNameProblem(v.Name);
    if (problem) errors.push(`${label}: its name ${problem}.`);
    const id = typeof v.Id === 'string' && v.Id.trim() ? v.Id.trim() : randomUUID();
    if (ids.has(id)) errors.push(`${label} has the Id ${id} of another variable; send "" to have a new one assigned.`);
    ids.add(id);
    const scope: Scope = {};
    for (const [k, values] of Object.entries(v.Scope ?? {})) {
      if (!(SCOPE_KEYS as readonly string[]).includes(k)) { errors.push(`${label} is scoped by ${k}; scopes are ${SCOPE_KEYS.join(', ')}.`); continue; }
      if (!values.length) continue;
      scope[k as ScopeKey] = [...new Set(values)];
      for (const x of values) {
        if (k === 'Environment') environments.add(x);
        if (k === 'Channel') channels.add(x);
        if (k === 'Action') actions.add(x);
      }
    }
    const sensitive = v.IsSensitive === true || v.Type === 'Sensitive';
    const common = { Id: id, Name: v.Name.trim(), Description: v.Description ?? null, Scope: scope, IsEditable: v.IsEditable ?? true, Prompt: v.Prompt ?? null };
    if (!sensitive) return { ...common, Value: v.Value ?? '', Type: v.Type && v.Type !== 'Sensitive' ? v.Type : 'String', IsSensitive: false };
    // A sensitive value read back is null: keep what the same variable held (sealed, or plain before it became sensitive).
    const old = before.get(id);
    const sealed = typeof v.Value === 'string'
      ? encrypt(key, v.Value)
      : old?.Sealed ?? encrypt(key, old?.Value ?? '');
    return { ...common, Value: null, Sealed: sealed, Type: 'Sensitive', IsSensitive: true };
  });
  const knownEnvironments = await lockedIdsOf(db, environmentTable, row.space_id, [...environments]);
  for (const e of environments) if (!knownEnvironments.has(e)) errors.push(`A variable is scoped to the environment ${e}, which does not exist in space ${row.space_id}.`);
  const projectChannels = new Set((await selectScopedPage(db, channelTable, row.space_id, { skip: 0, take: TAKE_EVERYTHING, ids: [...channels] }, { column: 'project_id', value: row.owner_id })).rows.map((c) => c.id));
  for (const c of channels) if (!projectChannels.has(c)) errors.push(`A variable is scoped to the channel ${c}, which is not a channel of project ${row.owner_id}.`);
  const process = await selectProcess(db, row.space_id, { projectId: row.owner_id });
  const processActions = new Set(((process?.steps ?? []) as StepDoc[]).flatMap((s) => s.Actions.map((a) => a.Id)));
  for (const a of actions) if (!processActions.has(a)) errors.push(`A variable is scoped to the action ${a}, which is not an action of the project's deployment process.`);
  return out;
}

export async function getVariableSet(db: Queryable, spaceId: string, id: string): Promise<VariableSetRow> {
  const row = await selectVariableSet(db, spaceId, id);
  if (!row) throw new NotFoundError(`There is no variable set ${id} in space ${spaceId}; a project's is named by its VariableSetId.`);
  return row;
}

/**
 * The variables as an audit event shows them: never a sensitive value, sealed or not (nor the plain
 * value one held before it became sensitive: `hidden` are the ids sensitive after the change).
 */
function audited(variables: readonly StoredVariable[], hidden: ReadonlySet<string>): object[] {
  return variables.map((v) => ({
    Id: v.Id, Name: v.Name, Value: v.IsSensitive || hidden.has(v.Id) ? null : v.Value, Description: v.Description,
    Scope: v.Scope, IsEditable: v.IsEditable, Type: v.Type, IsSensitive: v.IsSensitive, Prompt: v.Prompt,
  }));
}

/** Whether a sensitive variable's value is new or other than before (compared opened: sealing the same value again differs). */
function sensitiveValueChanged(key: MasterKey, before: ReadonlyMap<string, StoredVariable>, v: StoredVariable): boolean {
  if (v.Sealed === undefined) return false;
  const old = before.get(v.Id);
  if (!old) return true;
  if (old.Sealed === v.Sealed) return false;
  return (old.Sealed !== undefined ? decrypt(key, old.Sealed) : (old.Value ?? '')) !== decrypt(key, v.Sealed);
}

export async function modifyVariableSet(pool: Pool, key: MasterKey, spaceId: string, id: string, input: VariableSetInput, actor: Actor): Promise<VariableSetRow> {
  return withTransaction(pool, async (c) => {
    const row = await selectVariableSet(c, spaceId, id, true);
    if (!row) return getVariableSet(c, spaceId, id);
    if (input.Version !== undefined && input.Version !== row.version) {
      throw new ConflictError(`The variables of ${row.owner_id} were changed since you read them (version ${row.version} now, you sent ${input.Version}); GET them again, re-apply your change and PUT them.`);
    }
    const errors: string[] = [];
    const variables = await check(c, key, row, input, errors);
    if (errors.length) throw new InputError('The variables cannot be saved: ' + errors.join(' '), errors);
    const saved = await updateVariableSet(c, row.id, variables);
    const before = row.variables as StoredVariable[];
    const beforeById = new Map(before.map((v) => [v.Id, v]));
    const hidden = new Set(variables.filter((v) => v.IsSensitive).map((v) => v.Id));
    const changedSecrets = variables.filter((v) => sensitiveValueChanged(key, beforeById, v)).map((v) => `"${v.Name}"`);
    const project = await selectScoped(c, projectTable, spaceId, row.owner_id);
    await recordEvent(c, {
      spaceId, category: 'Modified', actor,
      message: `Modified the variables of project "${project?.name ?? row.owner_id}"`,
      relatedDocumentIds: [row.id, row.owner_id, spaceId],
      projectId: row.owner_id,
      ...(changedSecrets.length ? { details: `Sensitive values set or changed (never shown): ${changedSecrets.join(', ')}.` } : {}),
      changes: {
        before: { Id: row.id, Version: row.version, Variables: audited(before, hidden) },
        after: { Id: saved.id, Version: saved.version, Variables: audited(saved.variables as StoredVariable[], hidden) },
      },
    });
    return saved;
  });
}

/** A variable as the API shows it: a sensitive one without its value. */
export function presentVariable(v: StoredVariable): object {
  return { Id: v.Id, Name: v.Name, Value: v.IsSensitive ? null : v.Value, Description: v.Description, Scope: v.Scope, IsEditable: v.IsEditable, Type: v.Type, IsSensitive: v.IsSensitive, Prompt: v.Prompt };
}

export async function presentVariableSet(db: Queryable, row: VariableSetRow): Promise<object> {
  const variables = row.variables as StoredVariable[];
  const environments = (await selectScopedPage(db, environmentTable, row.space_id, { skip: 0, take: TAKE_EVERYTHING, ids: [] })).rows;
  const channels = (await selectScopedPage(db, channelTable, row.space_id, { skip: 0, take: TAKE_EVERYTHING, ids: [] }, { column: 'project_id', value: row.owner_id })).rows;
  const process = await selectProcess(db, row.space_id, { projectId: row.owner_id });
  const named = (rows: ScopedRow[]) => rows.map((r) => ({ Id: r.id, Name: r.name }));
  return {
    Id: row.id,
    SpaceId: row.space_id,
    OwnerId: row.owner_id,
    Version: row.version,
    Variables: variables.map(presentVariable),
    ScopeValues: {
      Environments: named(environments),
      Channels: named(channels),
      Actions: ((process?.steps ?? []) as StepDoc[]).flatMap((s) => s.Actions.map((a) => ({ Id: a.Id, Name: a.Name }))),
      Roles: [], Machines: [], TenantTags: [], Processes: [],
    },
    Links: { Self: `/api/${row.space_id}/variables/${row.id}` },
  };
}
