import type { Queryable } from '../db/pool.js';

// The deploy part's SQL. Every space-scoped statement has `space_id` in its WHERE: a resource of
// one space is invisible from another. Table and column names come only from the kinds declared
// in this part (never from a request); values are always parameters.

/** A page that holds every row (Octopus clients ask with take=int.MaxValue). */
export const TAKE_EVERYTHING = 2_147_483_647;

export interface PageQuery {
  readonly skip: number;
  readonly take: number;
  readonly ids: readonly string[];
  /** Case-insensitive substring of the name. */
  readonly partialName?: string;
}

export interface Page<R> { readonly rows: R[]; readonly total: number }

/** A row of any space-scoped resource table: the queried columns and the rest of the document. */
export interface ScopedRow {
  id: string; space_id: string; name: string; doc: Record<string, unknown>;
  /** Any extra column a kind declares (e.g. environments.sort_order). */
  [column: string]: unknown;
}

/** What the generic statements need to know about a resource table. */
export interface ScopedTable {
  /** Table name; its id sequence is `<table>_seq`. */
  readonly table: string;
  /** Octopus id prefix: `Environments` gives `Environments-7`. */
  readonly idPrefix: string;
  /** Columns besides id, space_id, name and doc, filled from the document. */
  readonly columns: readonly string[];
  /** ORDER BY of a list (columns of the table only). */
  readonly orderBy: string;
}

function filters(q: PageQuery, first: number): { where: string; params: unknown[] } {
  const parts: string[] = [];
  const params: unknown[] = [];
  if (q.ids.length) { params.push(q.ids); parts.push(`id = ANY($${first + params.length - 1})`); }
  // position() rather than LIKE: a % or _ in the name asked for is literal.
  if (q.partialName !== undefined) { params.push(q.partialName); parts.push(`position(lower($${first + params.length - 1}) in lower(name)) > 0`); }
  return { where: parts.map((p) => ` AND ${p}`).join(''), params };
}

async function page<R extends object>(db: Queryable, from: string, baseParams: unknown[], q: PageQuery, orderBy: string): Promise<Page<R>> {
  const f = filters(q, baseParams.length + 1);
  const params = [...baseParams, ...f.params];
  const total = await db.query<{ n: number }>(`SELECT count(*) AS n FROM ${from}${f.where}`, params);
  const rows = q.take === 0 ? [] : (await db.query<R>(
    `SELECT * FROM ${from}${f.where} ORDER BY ${orderBy}, id OFFSET $${params.length + 1} LIMIT $${params.length + 2}`,
    [...params, q.skip, q.take])).rows;
  return { rows, total: total.rows[0]?.n ?? 0 };
}

/** A page of a space's resources; `within` narrows it to the rows whose column (one of the table's own) holds a value (a project's channels). */
export function selectScopedPage(db: Queryable, t: ScopedTable, spaceId: string, q: PageQuery, within?: { column: string; value: string }): Promise<Page<ScopedRow>> {
  if (within && !t.columns.includes(within.column)) throw new Error(`${t.table} has no column ${within.column}`);
  return within
    ? page<ScopedRow>(db, `${t.table} WHERE space_id = $1 AND ${within.column} = $2`, [spaceId, within.value], q, t.orderBy)
    : page<ScopedRow>(db, `${t.table} WHERE space_id = $1`, [spaceId], q, t.orderBy);
}

export async function selectScoped(db: Queryable, t: ScopedTable, spaceId: string, id: string, forUpdate = false): Promise<ScopedRow | undefined> {
  const r = await db.query<ScopedRow>(`SELECT * FROM ${t.table} WHERE space_id = $1 AND id = $2${forUpdate ? ' FOR UPDATE' : ''}`, [spaceId, id]);
  return r.rows[0];
}

/** Raises unique_violation (23505) when the name is taken in the space. */
export async function insertScoped(db: Queryable, t: ScopedTable, spaceId: string, name: string, doc: object, extra: readonly unknown[]): Promise<ScopedRow> {
  const cols = t.columns.map((c) => `, ${c}`).join('');
  const vals = t.columns.map((_, i) => `, $${i + 4}`).join('');
  const r = await db.query<ScopedRow>(
    `INSERT INTO ${t.table} (id, space_id, name, doc${cols})
     VALUES ('${t.idPrefix}-' || nextval('${t.table}_seq'), $1, $2, $3${vals}) RETURNING *`,
    [spaceId, name, doc, ...extra]);
  return r.rows[0] as ScopedRow;
}

/** Undefined when there is no such resource in the space; raises 23505 when the new name is taken. */
export async function updateScoped(db: Queryable, t: ScopedTable, spaceId: string, id: string, name: string, doc: object, extra: readonly unknown[]): Promise<ScopedRow | undefined> {
  const sets = t.columns.map((c, i) => `, ${c} = $${i + 5}`).join('');
  const r = await db.query<ScopedRow>(
    `UPDATE ${t.table} SET name = $3, doc = $4${sets} WHERE space_id = $1 AND id = $2 RETURNING *`,
    [spaceId, id, name, doc, ...extra]);
  return r.rows[0];
}

export async function deleteScoped(db: Queryable, t: ScopedTable, spaceId: string, id: string): Promise<boolean> {
  const r = await db.query(`DELETE FROM ${t.table} WHERE space_id = $1 AND id = $2`, [spaceId, id]);
  return (r.rowCount ?? 0) > 0;
}

/** The next free value of an integer column in a space (environments' SortOrder). */
export async function nextInSpace(db: Queryable, t: ScopedTable, column: string, spaceId: string): Promise<number> {
  const r = await db.query<{ n: number }>(`SELECT coalesce(max(${column}) + 1, 0) AS n FROM ${t.table} WHERE space_id = $1`, [spaceId]);
  return r.rows[0]?.n ?? 0;
}

/**
 * Which of `ids` are resources of the table in the space, each locked FOR KEY SHARE until the
 * transaction ends: a delete of one of them waits for this writer and then sees its reference.
 */
export async function lockedIdsOf(db: Queryable, t: ScopedTable, spaceId: string, ids: readonly string[]): Promise<Set<string>> {
  if (!ids.length) return new Set();
  const r = await db.query<{ id: string }>(`SELECT id FROM ${t.table} WHERE space_id = $1 AND id = ANY($2) ORDER BY id FOR KEY SHARE`, [spaceId, ids]);
  return new Set(r.rows.map((x) => x.id));
}

/** The resources of a table (one with an `environment_ids` column) that name an environment. */
export async function usingEnvironment(db: Queryable, t: ScopedTable, spaceId: string, environmentId: string): Promise<{ id: string; name: string }[]> {
  const r = await db.query<{ id: string; name: string }>(
    `SELECT id, name FROM ${t.table} WHERE space_id = $1 AND environment_ids @> ARRAY[$2::text] ORDER BY lower(name), id`, [spaceId, environmentId]);
  return r.rows;
}

/** Up to ten resources of a table whose column refers to `id` (the projects of a lifecycle), for a sentence naming them. */
export async function referencing(db: Queryable, t: ScopedTable, column: string, spaceId: string, id: string): Promise<{ id: string; name: string }[]> {
  if (!t.columns.includes(column)) throw new Error(`${t.table} has no column ${column}`);
  const r = await db.query<{ id: string; name: string }>(
    `SELECT id, name FROM ${t.table} WHERE space_id = $1 AND ${column} = $2 ORDER BY lower(name), id LIMIT 10`, [spaceId, id]);
  return r.rows;
}

/** "lifecycle Lifecycles-2 (Main)" / "projects Projects-1 (A), Projects-2 (B)", or nothing when there are none. */
export function nameRows(noun: string, rows: readonly { id: string; name: string }[]): string[] {
  return rows.length ? [`${noun}${rows.length > 1 ? 's' : ''} ${rows.map((r) => `${r.id} (${r.name})`).join(', ')}`] : [];
}

// Spaces: not space-scoped themselves.

export interface SpaceRow { id: string; name: string; is_default: boolean; task_queue_stopped: boolean; doc: Record<string, unknown> }

export function selectSpacePage(db: Queryable, q: PageQuery): Promise<Page<SpaceRow>> {
  // The default space first, then the others as they were made.
  return page<SpaceRow>(db, 'spaces WHERE true', [], q, 'is_default DESC, lower(name)');
}

export async function selectSpace(db: Queryable, id: string, forUpdate = false): Promise<SpaceRow | undefined> {
  const r = await db.query<SpaceRow>(`SELECT * FROM spaces WHERE id = $1${forUpdate ? ' FOR UPDATE' : ''}`, [id]);
  return r.rows[0];
}

export async function insertSpace(db: Queryable, name: string, taskQueueStopped: boolean, doc: object): Promise<SpaceRow> {
  const r = await db.query<SpaceRow>(
    `INSERT INTO spaces (id, name, task_queue_stopped, doc) VALUES ('Spaces-' || nextval('spaces_seq'), $1, $2, $3) RETURNING *`,
    [name, taskQueueStopped, doc]);
  return r.rows[0] as SpaceRow;
}

export async function updateSpace(db: Queryable, id: string, name: string, taskQueueStopped: boolean, doc: object): Promise<SpaceRow | undefined> {
  const r = await db.query<SpaceRow>(
    'UPDATE spaces SET name = $2, task_queue_stopped = $3, doc = $4 WHERE id = $1 RETURNING *', [id, name, taskQueueStopped, doc]);
  return r.rows[0];
}

/** Deletes the space and, by the foreign keys, everything in it; only a non-default space whose queue is stopped. */
export async function deleteStoppedSpace(db: Queryable, id: string): Promise<boolean> {
  const r = await db.query('DELETE FROM spaces WHERE id = $1 AND task_queue_stopped AND NOT is_default', [id]);
  return (r.rowCount ?? 0) > 0;
}

/** Whether the space still has tasks that are queued or running (a space that has cannot go). */
export async function spaceHasActiveTasks(db: Queryable, spaceId: string): Promise<boolean> {
  const r = await db.query(`SELECT 1 FROM server_tasks WHERE space_id = $1 AND state IN ('Queued', 'Executing', 'Cancelling') LIMIT 1`, [spaceId]);
  return (r.rowCount ?? 0) > 0;
}
