// Audit events: `/api/events` (every space, and what is outside any) and `/api/{spaceId}/events`
// (one space), newest first, filtered as Octopus's are; only administrators read them.
import type { FastifyInstance, FastifyRequest, preValidationHookHandler } from 'fastify';
import Type from 'typebox';
import { EVENT_CATEGORIES, eventCategories, getEvent, isEventCategory, listEvents, presentEvent, type EventQuery } from '../../deploy/events.js';
import { InputError } from '../../errors.js';
import { requirePermission } from '../auth.js';
import type { ApiContext } from '../context.js';
import { TAKE_ALL } from '../documents.js';
import { intParam, listParam, stringParam } from '../query.js';
import { spaceOfRequest } from '../spaceScope.js';

const LISTS = ['users', 'projects', 'environments', 'eventCategories', 'regarding', 'spaces'] as const;
const MAX_ITEMS = 1000;
const MAX_ID = 200;

/** Each parameter once, as text; other parameters Octopus clients send are ignored. Meanings are checked below. */
const eventsQuery = Type.Object({
  skip: Type.Optional(Type.String({ maxLength: 20 })),
  take: Type.Optional(Type.String({ maxLength: 20 })),
  from: Type.Optional(Type.String({ maxLength: 64 })),
  to: Type.Optional(Type.String({ maxLength: 64 })),
  ...Object.fromEntries(LISTS.map((l) => [l, Type.Optional(Type.String({ maxLength: MAX_ITEMS * (MAX_ID + 1) }))])),
}, { additionalProperties: true });

const idParams = { type: 'object', properties: { id: { type: 'string', minLength: 1, maxLength: MAX_ID } }, required: ['id'] } as const;

// ISO 8601: a date, or a date and time with an optional offset (a `+` may arrive as a space, undecoded from a form).
const ISO_DATE = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)(Z|[+\- ]\d{2}:?\d{2})?)?$/i;

function dateParam(query: unknown, name: 'from' | 'to'): Date | undefined {
  const raw = stringParam(query, name)?.trim();
  if (raw === undefined || raw === '') return undefined;
  const m = ISO_DATE.exec(raw);
  // Without an offset the time is UTC (the server's own zone would make it mean different things on different nodes).
  const text = m ? `${m[1]}T${m[2] ?? '00:00'}${(m[3] ?? 'Z').replace(' ', '+')}` : '';
  const at = m ? new Date(text) : undefined;
  if (!at || Number.isNaN(at.getTime())) {
    throw new InputError(`The query parameter ${name}="${raw}" is not a date; give an ISO 8601 date or time such as 2024-05-01 or 2024-05-01T13:45:00Z.`);
  }
  return at;
}

function idList(query: unknown, name: (typeof LISTS)[number]): string[] {
  const list = [...new Set(listParam(query, name))];
  if (list.length > MAX_ITEMS) throw new InputError(`The query parameter ${name} names ${list.length} values; give at most ${MAX_ITEMS}.`);
  const long = list.find((x) => x.length > MAX_ID);
  if (long !== undefined) throw new InputError(`The query parameter ${name} has a value of ${long.length} characters; ids are at most ${MAX_ID}.`);
  return list;
}

/** The filters of a list, every one checked: a problem is a 400 naming the parameter. */
export function eventQuery(query: unknown, spaceId: string | undefined): EventQuery {
  const from = dateParam(query, 'from');
  const to = dateParam(query, 'to');
  if (from && to && from > to) throw new InputError(`The query parameter from (${from.toISOString()}) is after to (${to.toISOString()}); give from before to.`);
  const categories = idList(query, 'eventCategories');
  const unknown = categories.filter((c) => !isEventCategory(c));
  if (unknown.length) {
    throw new InputError(`The query parameter eventCategories names ${unknown.map((c) => `"${c}"`).join(', ')}, which ${unknown.length > 1 ? 'are not event categories' : 'is not an event category'}; the categories are ${Object.keys(EVENT_CATEGORIES).join(', ')} (GET /api/events/categories).`);
  }
  return {
    skip: intParam(query, 'skip', 0, 0, TAKE_ALL),
    take: intParam(query, 'take', 30, 0, TAKE_ALL),
    ...(spaceId !== undefined ? { spaceId } : {}),
    spaces: idList(query, 'spaces'),
    users: idList(query, 'users'),
    projects: idList(query, 'projects'),
    environments: idList(query, 'environments'),
    categories,
    regarding: idList(query, 'regarding'),
    ...(from ? { from } : {}),
    ...(to ? { to } : {}),
  };
}

/** Octopus's collection shape; the paging links keep the filters. */
function eventPage(items: object[], q: EventQuery, total: number, base: string, query: unknown): object {
  const pages = q.take > 0 ? Math.max(1, Math.ceil(total / q.take)) : 1;
  const kept = new URLSearchParams();
  for (const name of ['from', 'to', ...LISTS]) {
    const v = (query as Record<string, unknown> | undefined)?.[name];
    if (typeof v === 'string' && v !== '') kept.set(name, v);
  }
  const filters = kept.size ? `&${kept.toString()}` : '';
  const at = (skip: number) => `${base}?skip=${skip}&take=${q.take}${filters}`;
  return {
    ItemType: 'Event',
    TotalResults: total,
    ItemsPerPage: q.take,
    NumberOfPages: pages,
    LastPageNumber: pages - 1,
    Items: items,
    Links: {
      Self: at(q.skip),
      Template: `${base}{?skip,take,from,to,users,projects,environments,eventCategories,regarding,spaces}`,
      'Page.Current': at(q.skip),
      'Page.Last': at((pages - 1) * q.take),
      ...(q.skip + q.take < total ? { 'Page.Next': at(q.skip + q.take) } : {}),
      ...(q.skip > 0 ? { 'Page.Previous': at(Math.max(0, q.skip - q.take)) } : {}),
    },
  };
}

export function eventRoutes(app: FastifyInstance, ctx: ApiContext): void {
  // Before the query is validated: one who may not read events learns that first.
  const allowed: preValidationHookHandler = (req, _reply, done) => {
    try { requirePermission(req, 'EventView'); } catch (err) { done(err as Error); return; }
    done();
  };
  const spaceOf = async (req: FastifyRequest) => ((req.params as { spaceId?: string }).spaceId !== undefined ? spaceOfRequest(ctx, req) : undefined);

  for (const prefix of ['/api', '/api/:spaceId']) {
    app.get(`${prefix}/events`, { schema: { querystring: eventsQuery }, preValidation: allowed }, async (req) => {
      const space = await spaceOf(req);
      const q = eventQuery(req.query, space);
      const p = await listEvents(ctx.pool, q);
      return eventPage(p.rows.map(presentEvent), q, p.total, space !== undefined ? `/api/${space}/events` : '/api/events', req.query);
    });

    app.get(`${prefix}/events/categories`, { preValidation: allowed }, async (req) => {
      await spaceOf(req);
      return eventCategories();
    });

    app.get(`${prefix}/events/:id`, { schema: { params: idParams }, preValidation: allowed }, async (req) => {
      const space = await spaceOf(req);
      return presentEvent(await getEvent(ctx.pool, (req.params as { id: string }).id, space));
    });
  }
}
