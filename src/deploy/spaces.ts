import pg from 'pg';
import { withTransaction, type Pool, type Queryable } from '../db/pool.js';
import { ConflictError, InputError, NotFoundError } from '../errors.js';
import { deleteStoppedSpace, insertSpace, selectSpace, selectSpacePage, spaceHasActiveTasks, updateSpace, type Page, type PageQuery, type SpaceRow } from './queries.js';
import { recordEvent, type EventCategory } from './events.js';
import { DEFAULT_LIFECYCLE_NAME, lifecycleKind } from './lifecycles.js';
import { DEFAULT_PROJECT_GROUP_NAME, projectGroupKind } from './projectGroups.js';
import { notifyQueued } from '../tasks/queries.js';
import { createScopedIn, duplicateName, type Actor } from './scoped.js';

export const DEFAULT_SPACE_ID = 'Spaces-1';

/** Octopus's Space, as bound from a request. `IsDefault` is the server's: only Spaces-1 is. */
export interface SpaceDoc {
  Name: string;
  Slug?: string;
  Description?: string;
  SpaceManagersTeams?: string[];
  SpaceManagersTeamMembers?: string[];
  TaskQueueStopped?: boolean;
}

function slugOf(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'space';
}

function checked(input: SpaceDoc, existing: SpaceRow | undefined): { name: string; stopped: boolean; doc: object } {
  const name = input.Name.trim();
  if (name === '') throw new InputError('The space cannot be saved: Name must not be empty or only spaces.', ['Name must not be empty or only spaces.']);
  const before = existing?.doc ?? {};
  return {
    name,
    stopped: input.TaskQueueStopped ?? existing?.task_queue_stopped ?? false,
    doc: {
      Slug: input.Slug?.trim() || (before.Slug as string | undefined) || slugOf(name),
      Description: input.Description ?? '',
      SpaceManagersTeams: input.SpaceManagersTeams ?? [],
      SpaceManagersTeamMembers: input.SpaceManagersTeamMembers ?? [],
    },
  };
}

/** The space as an audit event shows it before and after a change. */
function documentOf(s: SpaceRow): Record<string, unknown> {
  return { Id: s.id, Name: s.name, IsDefault: s.is_default, TaskQueueStopped: s.task_queue_stopped, ...s.doc };
}

/** A space's own change is an event of that space (kept after the space is deleted). */
async function audit(db: Queryable, category: EventCategory, s: SpaceRow, actor: Actor, changes: { before?: unknown; after?: unknown }, renamedFrom?: string): Promise<void> {
  const renamed = renamedFrom !== undefined && renamedFrom !== s.name ? ` (renamed from "${renamedFrom}")` : '';
  await recordEvent(db, { spaceId: s.id, category, message: `${category} space "${s.name}"${renamed}`, actor, relatedDocumentIds: [s.id], changes });
}

async function named<T>(name: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof pg.DatabaseError && err.code === '23505') throw duplicateName('space', name, '');
    throw err;
  }
}

export function listSpaces(db: Queryable, q: PageQuery): Promise<Page<SpaceRow>> {
  return selectSpacePage(db, q);
}

export async function getSpace(db: Queryable, id: string): Promise<SpaceRow> {
  const s = await selectSpace(db, id);
  if (!s) throw new NotFoundError(`There is no space ${id}; list the spaces with GET /api/spaces.`);
  return s;
}

export async function createSpace(pool: Pool, input: SpaceDoc, actor: Actor): Promise<SpaceRow> {
  const s = checked(input, undefined);
  return named(s.name, () => withTransaction(pool, async (c) => {
    const row = await insertSpace(c, s.name, s.stopped, s.doc);
    await audit(c, 'Created', row, actor, { after: documentOf(row) });
    // What a client takes as `list({take: 1}).Items[0]` right after creating the space (migration
    // 007 gave the spaces that existed before the same). A lifecycle with no phases allows every
    // environment (each is an event of its own). Seam: the built-in feed (packages) is written here too.
    await createScopedIn(c, lifecycleKind, row.id, { Name: DEFAULT_LIFECYCLE_NAME }, actor);
    await createScopedIn(c, projectGroupKind, row.id, { Name: DEFAULT_PROJECT_GROUP_NAME }, actor);
    return row;
  }));
}

export async function modifySpace(pool: Pool, id: string, input: SpaceDoc, actor: Actor): Promise<SpaceRow> {
  return named(input.Name.trim(), () => withTransaction(pool, async (c) => {
    const existing = await selectSpace(c, id, true);
    if (!existing) throw new NotFoundError(`There is no space ${id}; list the spaces with GET /api/spaces.`);
    const s = checked(input, existing);
    const row = (await updateSpace(c, id, s.name, s.stopped, s.doc))!;
    await audit(c, 'Modified', row, actor, { before: documentOf(existing), after: documentOf(row) }, existing.name);
    // Its queue started again: the tasks it kept queued are claimable now, so every node is told at
    // commit (as when a task is queued) rather than finding them at its next poll.
    if (existing.task_queue_stopped && !row.task_queue_stopped) await notifyQueued(c);
    return row;
  }));
}

export async function deleteSpace(pool: Pool, id: string, actor: Actor): Promise<void> {
  await withTransaction(pool, async (c) => {
    const s = await selectSpace(c, id, true);
    if (!s) throw new NotFoundError(`There is no space ${id}; list the spaces with GET /api/spaces.`);
    if (s.is_default) throw new ConflictError(`The space ${id} (${s.name}) is the default space and cannot be deleted.`);
    if (!s.task_queue_stopped) {
      throw new ConflictError(`The space ${id} (${s.name}) still runs its task queue; stop it first (PUT the space with "TaskQueueStopped": true), then delete it.`);
    }
    // A stopped queue takes no new tasks, but what it already holds must end first: a task whose
    // space is gone could be neither read nor settled under it.
    if (await spaceHasActiveTasks(c, id)) {
      throw new ConflictError(`The space ${id} (${s.name}) still has queued or running tasks; cancel them or wait for them to finish, then delete it.`);
    }
    await deleteStoppedSpace(c, id);
    await audit(c, 'Deleted', s, actor, { before: documentOf(s) });
  });
}
