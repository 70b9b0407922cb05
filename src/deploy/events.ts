// Audit events, Octopus's: who changed or deployed what, when, and through which node. A change
// writes its event in its own transaction (`recordEvent` takes the caller's client), so the change
// and its event commit together or not at all. `/api/events` reads them, newest first.
import type { Queryable } from '../db/pool.js';
import { NotFoundError } from '../errors.js';
import type { Page } from './queries.js';
import type { Actor } from './scoped.js';

/** The categories Cuttle writes (or will: the deployment ones), with Octopus's display names. */
export const EVENT_CATEGORIES = {
  Created: 'Document created',
  Modified: 'Document modified',
  Deleted: 'Document deleted',
  ReleaseCreated: 'Release created',
  DeploymentQueued: 'Deployment queued',
  DeploymentStarted: 'Deployment started',
  /** Cuttle's own: a deployment whose node died goes on on another node. */
  DeploymentResumed: 'Deployment resumed',
  DeploymentSucceeded: 'Deployment succeeded',
  DeploymentFailed: 'Deployment failed',
  DeploymentCanceled: 'Deployment canceled',
  TaskCanceled: 'Task canceled',
  /** Cuttle's own: an administrator had the master key shown in the portal. */
  MasterKeyViewed: 'Master key viewed',
} as const;

export type EventCategory = keyof typeof EVENT_CATEGORIES;

export function isEventCategory(s: string): s is EventCategory {
  return Object.hasOwn(EVENT_CATEGORIES, s);
}

export interface EventInput {
  /** The space the change happened in; null for what is outside any space (users). */
  spaceId: string | null;
  category: EventCategory;
  /** One sentence: `Created environment "Production"`. */
  message: string;
  actor: Actor;
  /** The documents the event is about (the space, project and environment are added). */
  relatedDocumentIds: string[];
  projectId?: string;
  environmentId?: string;
  details?: string;
  /** The document before and after the change; never a sensitive value. */
  changes?: { before?: unknown; after?: unknown };
}

/** Who did what the server did by itself (a deployment resumed on another node). */
export function systemActor(nodeName: string): Actor {
  return { userId: 'users-system', username: `system (node ${nodeName})` };
}

/**
 * Writes the event with the caller's client (inside the caller's transaction) and returns its id.
 * The node is the one whose connection writes it (the node's pool names itself `cuttle <node>`).
 */
export async function recordEvent(db: Queryable, e: EventInput): Promise<string> {
  const related = [...new Set([...e.relatedDocumentIds, e.projectId, e.environmentId, e.spaceId]
    .filter((x): x is string => typeof x === 'string' && x !== ''))];
  const changes = e.changes && (e.changes.before !== undefined || e.changes.after !== undefined)
    ? JSON.stringify({ before: e.changes.before ?? null, after: e.changes.after ?? null })
    : null;
  const r = await db.query<{ id: string }>(
    `INSERT INTO events (id, seq, space_id, category, message, user_id, username, node, related_document_ids, project_id, environment_id, details, changes)
     SELECT 'Events-' || s, s, $1, $2, $3, $4, $5, nullif(regexp_replace(current_setting('application_name'), '^cuttle ', ''), ''), $6, $7, $8, $9, $10::jsonb
       FROM nextval('events_seq') AS s
     RETURNING id`,
    [e.spaceId, e.category, e.message, e.actor.userId, e.actor.username, related, e.projectId ?? null, e.environmentId ?? null, e.details ?? null, changes]);
  return r.rows[0]!.id;
}

export interface EventRow {
  id: string;
  seq: number;
  space_id: string | null;
  category: string;
  message: string;
  occurred: Date;
  user_id: string;
  username: string;
  node: string | null;
  related_document_ids: string[];
  project_id: string | null;
  environment_id: string | null;
  details: string | null;
  changes: { before: unknown; after: unknown } | null;
}

/** What a list asks for; an empty list does not filter. */
export interface EventQuery {
  readonly skip: number;
  readonly take: number;
  /** The one space of a space-scoped list. */
  readonly spaceId?: string;
  readonly spaces: readonly string[];
  readonly users: readonly string[];
  readonly projects: readonly string[];
  readonly environments: readonly string[];
  readonly categories: readonly string[];
  /** Events related to any of these documents. */
  readonly regarding: readonly string[];
  /** Inclusive bounds of `occurred`. */
  readonly from?: Date;
  readonly to?: Date;
}

/** A page of events, newest first (events of one transaction: the last written first). */
export async function listEvents(db: Queryable, q: EventQuery): Promise<Page<EventRow>> {
  const params: unknown[] = [];
  const where: string[] = [];
  const add = (sql: (p: string) => string, value: unknown) => { params.push(value); where.push(sql(`$${params.length}`)); };
  if (q.spaceId !== undefined) add((p) => `space_id = ${p}`, q.spaceId);
  if (q.spaces.length) add((p) => `space_id = ANY(${p}::text[])`, q.spaces);
  if (q.users.length) add((p) => `user_id = ANY(${p}::text[])`, q.users);
  if (q.projects.length) add((p) => `project_id = ANY(${p}::text[])`, q.projects);
  if (q.environments.length) add((p) => `environment_id = ANY(${p}::text[])`, q.environments);
  if (q.categories.length) add((p) => `category = ANY(${p}::text[])`, q.categories);
  if (q.regarding.length) add((p) => `related_document_ids && ${p}::text[]`, q.regarding);
  if (q.from) add((p) => `occurred >= ${p}`, q.from);
  if (q.to) add((p) => `occurred <= ${p}`, q.to);
  const filter = where.length ? ` WHERE ${where.join(' AND ')}` : '';
  const total = await db.query<{ n: number }>(`SELECT count(*) AS n FROM events${filter}`, params);
  const rows = q.take === 0 ? [] : (await db.query<EventRow>(
    `SELECT * FROM events${filter} ORDER BY occurred DESC, seq DESC OFFSET $${params.length + 1} LIMIT $${params.length + 2}`,
    [...params, q.skip, q.take])).rows;
  return { rows, total: total.rows[0]?.n ?? 0 };
}

/** One event; with `spaceId`, only one of that space (404 otherwise). */
export async function getEvent(db: Queryable, id: string, spaceId?: string): Promise<EventRow> {
  const r = await db.query<EventRow>('SELECT * FROM events WHERE id = $1', [id]);
  const row = r.rows[0];
  if (!row || (spaceId !== undefined && row.space_id !== spaceId)) {
    throw new NotFoundError(`There is no event ${id}${spaceId !== undefined ? ` in space ${spaceId}` : ''}; list them with GET /api/${spaceId !== undefined ? `${spaceId}/` : ''}events.`);
  }
  return row;
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** One RFC 6902 operation. */
export interface PatchOperation { op: 'add' | 'remove' | 'replace'; path: string; value?: unknown }

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const pointer = (key: string | number) => `/${String(key).replace(/~/g, '~0').replace(/\//g, '~1')}`;

function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => same(x, b[i]));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && same(a[k], b[k]));
  }
  return false;
}

/**
 * What turns `before` into `after`, as JSON Patch: objects property by property, arrays of the same
 * length item by item, anything else replaced whole. A document created is all `add`s, one
 * deleted all `remove`s.
 */
export function differences(before: unknown, after: unknown): PatchOperation[] {
  return diff(before ?? {}, after ?? {}, '');
}

function diff(b: unknown, a: unknown, path: string): PatchOperation[] {
  if (isObject(b) && isObject(a)) {
    const ops: PatchOperation[] = [];
    for (const k of Object.keys(b)) if (!Object.hasOwn(a, k)) ops.push({ op: 'remove', path: path + pointer(k) });
    for (const [k, v] of Object.entries(a)) {
      if (!Object.hasOwn(b, k)) ops.push({ op: 'add', path: path + pointer(k), value: v });
      else ops.push(...diff(b[k], v, path + pointer(k)));
    }
    return ops;
  }
  if (Array.isArray(b) && Array.isArray(a) && a.length === b.length) return a.flatMap((v, i) => diff(b[i], v, path + pointer(i)));
  return same(b, a) ? [] : [{ op: 'replace', path, value: a }];
}

/** Octopus's Event resource. `Node` is Cuttle's own: the node the change went through. */
export function presentEvent(row: EventRow): object {
  return {
    Id: row.id,
    SpaceId: row.space_id,
    Category: row.category,
    UserId: row.user_id,
    Username: row.username,
    IsService: false,
    IdentityEstablishedWith: '',
    UserAgent: '',
    RelatedDocumentIds: row.related_document_ids,
    Message: row.message,
    MessageText: row.message,
    MessageHtml: escapeHtml(row.message),
    MessageReferences: [],
    Comments: null,
    Details: row.details,
    ChangeDetails: row.changes ? { DocumentContext: null, Differences: differences(row.changes.before, row.changes.after) } : null,
    Occurred: row.occurred.toISOString(),
    Node: row.node,
    Links: { Self: `/api/events/${row.id}` },
  };
}

/** `GET /api/events/categories`: `{Id, Name}` of each category. */
export function eventCategories(): { Id: EventCategory; Name: string }[] {
  return Object.entries(EVENT_CATEGORIES).map(([Id, Name]) => ({ Id: Id as EventCategory, Name }));
}
