// The rules every space-scoped resource shares (environments now; lifecycles, project groups,
// projects and channels next): names unique per space case-insensitively, ids of the space only,
// whole-document modify, every problem of a document reported at once.
import pg from 'pg';
import { withTransaction, type Pool, type Queryable } from '../db/pool.js';
import { ConflictError, InputError, NotFoundError } from '../errors.js';
import { recordEvent, type EventCategory } from './events.js';
import { deleteScoped, insertScoped, selectScoped, selectScopedPage, updateScoped, type Page, type PageQuery, type ScopedRow, type ScopedTable } from './queries.js';
import { environmentTable, projectTable } from './tables.js';

/** Who makes a change; its audit event records it. */
export interface Actor { readonly userId: string; readonly username: string }

/** A document as the API validated it: Octopus field names, `Name` always present. */
export type ScopedDoc = { Name: string } & Record<string, unknown>;

export interface ScopedKind<D extends ScopedDoc = ScopedDoc> {
  readonly table: ScopedTable;
  /** In sentences: "environment". */
  readonly noun: string;
  /**
   * Fills defaults and checks what the schema cannot (references, ranges); pushes one sentence per
   * problem. `existing` is the stored row on modify.
   */
  prepare(db: Queryable, spaceId: string, input: D, existing: ScopedRow | undefined, errors: string[]): Promise<D>;
  /** Values of the table's extra columns, in `table.columns` order. */
  columns(doc: D): unknown[];
  /**
   * Why the resource may not be deleted (one sentence naming what still uses it), or undefined.
   * Called with the row locked FOR UPDATE, so a writer that references it (and locks it FOR KEY
   * SHARE, as `lockedIdsOf` does) either committed before and is seen here, or waits and then
   * finds it gone.
   */
  usedBy?(db: Queryable, spaceId: string, row: ScopedRow): Promise<string | undefined>;
  /** What a new resource brings with it (a project's deployment process, variable set and default channel), in the same transaction. */
  created?(db: Queryable, spaceId: string, row: ScopedRow, doc: D): Promise<void>;
}

/** The fields kept in the columns, not in `doc`; and what the server owns (never stored from a body). */
const NOT_IN_DOC = new Set(['Id', 'SpaceId', 'Name', 'Links']);

function docOf(d: ScopedDoc): Record<string, unknown> {
  return Object.fromEntries(Object.entries(d).filter(([k]) => !NOT_IN_DOC.has(k)));
}

function isUniqueViolation(err: unknown): boolean {
  return err instanceof pg.DatabaseError && err.code === '23505';
}

export function duplicateName(noun: string, name: string, where: string): ConflictError {
  return new ConflictError(`A${/^[aeiou]/i.test(noun) ? 'n' : ''} ${noun} named "${name}" already exists${where}; choose another name (names are compared without regard to case).`);
}

function notFound(kind: ScopedKind, spaceId: string, id: string): NotFoundError {
  return new NotFoundError(`There is no ${kind.noun} ${id} in space ${spaceId}.`);
}

async function checked<D extends ScopedDoc>(db: Queryable, kind: ScopedKind<D>, spaceId: string, input: D, existing?: ScopedRow): Promise<D> {
  const errors: string[] = [];
  if (input.Name.trim() === '') errors.push('Name must not be empty or only spaces.');
  const doc = await kind.prepare(db, spaceId, { ...input, Name: input.Name.trim() }, existing, errors);
  if (errors.length) throw new InputError(`The ${kind.noun} cannot be saved: ${errors.join(' ')}`, errors);
  return doc;
}

/** The document an audit event shows before and after a change: the resource as stored. */
function documentOf(row: ScopedRow): Record<string, unknown> {
  return { Id: row.id, SpaceId: row.space_id, Name: row.name, ...row.doc };
}

/**
 * The change's audit event, in its transaction: `Created environment "Production"`, related to the
 * resource and its space (and project: a project's own, a channel's).
 */
async function audit(db: Queryable, kind: ScopedKind, category: EventCategory, row: ScopedRow, actor: Actor, changes: { before?: unknown; after?: unknown }, renamedFrom?: string): Promise<void> {
  const projectId = kind.table === projectTable ? row.id : typeof row.project_id === 'string' ? row.project_id : undefined;
  const renamed = renamedFrom !== undefined && renamedFrom !== row.name ? ` (renamed from "${renamedFrom}")` : '';
  await recordEvent(db, {
    spaceId: row.space_id,
    category,
    message: `${category} ${kind.noun} "${row.name}"${renamed}`,
    actor,
    relatedDocumentIds: [row.id, row.space_id],
    ...(projectId !== undefined ? { projectId } : {}),
    ...(kind.table === environmentTable ? { environmentId: row.id } : {}),
    changes,
  });
}

/** Runs a change in one transaction; a name taken meanwhile (on any node) is the 409 it should be. */
async function change<T>(pool: Pool, kind: ScopedKind, spaceId: string, name: string, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  try {
    return await withTransaction(pool, fn);
  } catch (err) {
    if (isUniqueViolation(err)) throw duplicateName(kind.noun, name, ` in space ${spaceId}`);
    // The space was deleted (on another node) between the lookup and this change.
    if (err instanceof pg.DatabaseError && err.code === '23503' && err.constraint?.endsWith('_space_id_fkey')) {
      throw new NotFoundError(`There is no space ${spaceId}; list the spaces with GET /api/spaces.`);
    }
    throw err;
  }
}

export function listScoped(db: Queryable, kind: ScopedKind, spaceId: string, q: PageQuery): Promise<Page<ScopedRow>> {
  return selectScopedPage(db, kind.table, spaceId, q);
}

export async function getScoped(db: Queryable, kind: ScopedKind, spaceId: string, id: string): Promise<ScopedRow> {
  const row = await selectScoped(db, kind.table, spaceId, id);
  if (!row) throw notFound(kind, spaceId, id);
  return row;
}

export async function createScoped<D extends ScopedDoc>(pool: Pool, kind: ScopedKind<D>, spaceId: string, input: D, actor: Actor): Promise<ScopedRow> {
  return change(pool, kind as unknown as ScopedKind, spaceId, input.Name.trim(), (c) => createScopedIn(c, kind, spaceId, input, actor));
}

/** A create inside the caller's transaction (a new space's default lifecycle and project group). */
export async function createScopedIn<D extends ScopedDoc>(db: Queryable, kind: ScopedKind<D>, spaceId: string, input: D, actor: Actor): Promise<ScopedRow> {
  const doc = await checked(db, kind, spaceId, input);
  const row = await insertScoped(db, kind.table, spaceId, doc.Name, docOf(doc), kind.columns(doc));
  await kind.created?.(db, spaceId, row, doc);
  // One event for the resource (what it brings with it, a project's process say, is part of it).
  await audit(db, kind, 'Created', row, actor, { after: documentOf(row) });
  return row;
}

/** Replaces the whole document (Octopus's PUT). */
export async function modifyScoped<D extends ScopedDoc>(pool: Pool, kind: ScopedKind<D>, spaceId: string, id: string, input: D, actor: Actor): Promise<ScopedRow> {
  return change(pool, kind as unknown as ScopedKind, spaceId, input.Name.trim(), async (c) => {
    const existing = await selectScoped(c, kind.table, spaceId, id, true);
    if (!existing) throw notFound(kind, spaceId, id);
    const doc = await checked(c, kind, spaceId, input, existing);
    const row = (await updateScoped(c, kind.table, spaceId, id, doc.Name, docOf(doc), kind.columns(doc)))!;
    await audit(c, kind, 'Modified', row, actor, { before: documentOf(existing), after: documentOf(row) }, existing.name);
    return row;
  });
}

/** Deletes the resource unless something still uses it (`usedBy`: a 409 naming the user). */
export async function deleteScopedResource(pool: Pool, kind: ScopedKind, spaceId: string, id: string, actor: Actor): Promise<void> {
  await withTransaction(pool, async (c) => {
    const row = await selectScoped(c, kind.table, spaceId, id, true);
    if (!row) throw notFound(kind, spaceId, id);
    const user = await kind.usedBy?.(c, spaceId, row);
    if (user !== undefined) throw new ConflictError(`The ${kind.noun} ${id} (${row.name}) cannot be deleted: ${user}`);
    await deleteScoped(c, kind.table, spaceId, id);
    await audit(c, kind, 'Deleted', row, actor, { before: documentOf(row) });
  });
}
