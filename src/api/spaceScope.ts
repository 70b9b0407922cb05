// Space-scoped resources through the API: `/api/{spaceId}/<segment>` (and `/api/<segment>` for
// the default space where Octopus has it), the space resolved once per request, and one route
// factory for list, /all, get, create, modify (whole document) and delete. Environments use it
// now; lifecycles, project groups, projects and channels are each one more call.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TObject } from 'typebox';
import type { Permission } from '../auth/permissions.js';
import type { ScopedRow } from '../deploy/queries.js';
import { createScoped, deleteScopedResource, getScoped, listScoped, modifyScoped, type Actor, type ScopedDoc, type ScopedKind } from '../deploy/scoped.js';
import { DEFAULT_SPACE_ID, getSpace } from '../deploy/spaces.js';
import { requirePermission } from './auth.js';
import type { ApiContext } from './context.js';
import { TAKE_ALL, bindBody, page, pageQuery } from './documents.js';

/** The space a request names (404 naming it when there is none); the default space on unscoped routes. */
export async function spaceOfRequest(ctx: ApiContext, req: FastifyRequest): Promise<string> {
  const id = (req.params as { spaceId?: string }).spaceId;
  if (id === undefined) return DEFAULT_SPACE_ID;
  return (await getSpace(ctx.pool, id)).id;
}

export function actorOf(req: FastifyRequest): Actor {
  return { userId: req.user!.id, username: req.user!.username };
}

export interface ScopedRoutes<D extends ScopedDoc> {
  /** Path segment after the space: `environments`. */
  readonly segment: string;
  /** The collection's ItemType: `Environment`. */
  readonly itemType: string;
  readonly kind: ScopedKind<D>;
  /** The document a create or modify takes (TypeBox: validation and, through Static, the type). */
  readonly body: TObject;
  readonly view: Permission;
  readonly edit: Permission;
  /** Also serve `/api/<segment>` for the default space (Octopus has it for the older resources). */
  readonly unscoped: boolean;
  /** The Octopus resource of a stored row. */
  present(row: ScopedRow, self: string): object;
}

const idParams = {
  type: 'object',
  properties: { id: { type: 'string', minLength: 1, maxLength: 200 } },
  required: ['id'],
} as const;

export function scopedResourceRoutes<D extends ScopedDoc>(app: FastifyInstance, ctx: ApiContext, r: ScopedRoutes<D>): void {
  const prefixes = r.unscoped ? ['/api/:spaceId', '/api'] : ['/api/:spaceId'];
  const body = { schema: { body: r.body }, preValidation: bindBody(r.body) };
  const base = (space: string) => `/api/${space}/${r.segment}`;
  const present = (row: ScopedRow) => r.present(row, `${base(row.space_id)}/${row.id}`);

  for (const prefix of prefixes) {
    const path = `${prefix}/${r.segment}`;

    app.get(path, async (req) => {
      requirePermission(req, r.view);
      const space = await spaceOfRequest(ctx, req);
      const q = pageQuery(req.query);
      const p = await listScoped(ctx.pool, r.kind, space, q);
      return page(r.itemType, p.rows.map(present), q, p.total, base(space));
    });

    app.get(`${path}/all`, async (req) => {
      requirePermission(req, r.view);
      const space = await spaceOfRequest(ctx, req);
      const q = { ...pageQuery(req.query), skip: 0, take: TAKE_ALL };
      return (await listScoped(ctx.pool, r.kind as unknown as ScopedKind, space, q)).rows.map(present);
    });

    app.get(`${path}/:id`, { schema: { params: idParams } }, async (req) => {
      requirePermission(req, r.view);
      const space = await spaceOfRequest(ctx, req);
      return present(await getScoped(ctx.pool, r.kind, space, (req.params as { id: string }).id));
    });

    app.post(path, body, async (req, reply) => {
      requirePermission(req, r.edit);
      const space = await spaceOfRequest(ctx, req);
      const row = await createScoped(ctx.pool, r.kind, space, req.body as D, actorOf(req));
      return reply.code(201).send(present(row));
    });

    app.put(`${path}/:id`, { ...body, schema: { ...body.schema, params: idParams } }, async (req) => {
      requirePermission(req, r.edit);
      const space = await spaceOfRequest(ctx, req);
      return present(await modifyScoped(ctx.pool, r.kind, space, (req.params as { id: string }).id, req.body as D, actorOf(req)));
    });

    app.delete(`${path}/:id`, { schema: { params: idParams } }, async (req) => {
      requirePermission(req, r.edit);
      const space = await spaceOfRequest(ctx, req);
      await deleteScopedResource(ctx.pool, r.kind, space, (req.params as { id: string }).id, actorOf(req));
      return {};
    });
  }
}
