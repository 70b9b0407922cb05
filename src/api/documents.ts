// Octopus documents in and out: property names bound case-insensitively (the client mixes
// `spaceName` with `ProjectName`), unknown properties ignored, paging read from the query string.
import type { preValidationHookHandler } from 'fastify';
import type { TObject } from 'typebox';
import type { PageQuery } from '../deploy/queries.js';
import { intParam, listParam, stringParam } from './query.js';

/** Octopus clients ask for "everything" with take=int.MaxValue (the client's space lookup does). */
export const TAKE_ALL = 2_147_483_647;

export function pageQuery(query: unknown): PageQuery {
  const partialName = stringParam(query, 'partialName');
  return {
    skip: intParam(query, 'skip', 0, 0, TAKE_ALL),
    take: intParam(query, 'take', 30, 0, TAKE_ALL),
    ids: listParam(query, 'ids'),
    ...(partialName !== undefined ? { partialName } : {}),
  };
}

/**
 * A preValidation hook: renames the body's properties to the schema's spelling (`name` → `Name`)
 * and drops the ones it does not know, so the schema then checks the document Cuttle keeps.
 * A null is taken as "not given", as documents read back from Octopus carry nulls for empty fields.
 */
export function bindBody(schema: TObject): preValidationHookHandler {
  const byLower = new Map(Object.keys(schema.properties).map((k) => [k.toLowerCase(), k]));
  return (req, _reply, done) => {
    const body = req.body;
    // Anything but an object is left as sent: the schema names the problem.
    if (typeof body !== 'object' || body === null || Array.isArray(body)) { done(); return; }
    const bound: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(body as Record<string, unknown>)) {
      const name = byLower.get(k.toLowerCase());
      if (name !== undefined && v !== null) bound[name] = v;
    }
    req.body = bound;
    done();
  };
}

/** Octopus collection shape: the page asked for, with the totals and paging links. */
export function page<T>(itemType: string, items: T[], q: PageQuery, total: number, base: string): object {
  const pages = q.take > 0 ? Math.max(1, Math.ceil(total / q.take)) : 1;
  const at = (skip: number) => `${base}?skip=${skip}&take=${q.take}`;
  return {
    ItemType: itemType,
    TotalResults: total,
    ItemsPerPage: q.take,
    NumberOfPages: pages,
    LastPageNumber: pages - 1,
    Items: items,
    Links: {
      Self: at(q.skip),
      Template: `${base}{?skip,take,ids,partialName}`,
      'Page.All': `${base}/all`,
      'Page.Current': at(q.skip),
      'Page.Last': at((pages - 1) * q.take),
      ...(q.skip + q.take < total ? { 'Page.Next': at(q.skip + q.take) } : {}),
      ...(q.skip > 0 ? { 'Page.Previous': at(Math.max(0, q.skip - q.take)) } : {}),
    },
  };
}
