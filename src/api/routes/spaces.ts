import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import type { ApiContext } from '../context.js';
import type { SpaceRow } from '../../deploy/queries.js';
import { createSpace, deleteSpace, getSpace, listSpaces, modifySpace, type SpaceDoc } from '../../deploy/spaces.js';
import { requirePermission } from '../auth.js';
import { TAKE_ALL, bindBody, page, pageQuery } from '../documents.js';
import { actorOf } from '../spaceScope.js';

const ids = Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { maxItems: 1000 });

/** What a create or modify takes. Id, IsDefault and Links of a document read back are the server's. */
const spaceBody = Type.Object({
  Name: Type.String({ minLength: 1, maxLength: 200 }),
  Slug: Type.Optional(Type.String({ maxLength: 200 })),
  Description: Type.Optional(Type.String({ maxLength: 10_000 })),
  SpaceManagersTeams: Type.Optional(ids),
  SpaceManagersTeamMembers: Type.Optional(ids),
  TaskQueueStopped: Type.Optional(Type.Boolean()),
  IsDefault: Type.Optional(Type.Boolean()),
});

const idParams = { type: 'object', properties: { id: { type: 'string', minLength: 1, maxLength: 200 } }, required: ['id'] } as const;

export function spaceResource(s: SpaceRow): object {
  const self = `/api/spaces/${s.id}`;
  return {
    Id: s.id,
    Name: s.name,
    Slug: s.doc.Slug ?? '',
    Description: s.doc.Description ?? '',
    IsDefault: s.is_default,
    IsPrivate: false,
    TaskQueueStopped: s.task_queue_stopped,
    SpaceManagersTeams: s.doc.SpaceManagersTeams ?? [],
    SpaceManagersTeamMembers: s.doc.SpaceManagersTeamMembers ?? [],
    Links: { Self: self, SpaceHome: `/api/${s.id}`, Web: `/app#/${s.id}` },
  };
}

/** Any signed-in user may see the spaces; only an administrator changes them. */
export function spaceRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const body = { schema: { body: spaceBody }, preValidation: bindBody(spaceBody) };

  app.get('/api/spaces', async (req) => {
    const q = pageQuery(req.query);
    const p = await listSpaces(ctx.pool, q);
    return page('Space', p.rows.map(spaceResource), q, p.total, '/api/spaces');
  });

  app.get('/api/spaces/all', async (req) => {
    const q = { ...pageQuery(req.query), skip: 0, take: TAKE_ALL };
    return (await listSpaces(ctx.pool, q)).rows.map(spaceResource);
  });

  app.get('/api/spaces/:id', { schema: { params: idParams } }, async (req) => spaceResource(await getSpace(ctx.pool, (req.params as { id: string }).id)));

  app.post('/api/spaces', body, async (req, reply) => {
    requirePermission(req, 'AdministerSystem');
    return reply.code(201).send(spaceResource(await createSpace(ctx.pool, req.body as SpaceDoc, actorOf(req))));
  });

  app.put('/api/spaces/:id', { ...body, schema: { ...body.schema, params: idParams } }, async (req) => {
    requirePermission(req, 'AdministerSystem');
    return spaceResource(await modifySpace(ctx.pool, (req.params as { id: string }).id, req.body as SpaceDoc, actorOf(req)));
  });

  app.delete('/api/spaces/:id', { schema: { params: idParams } }, async (req) => {
    requirePermission(req, 'AdministerSystem');
    await deleteSpace(ctx.pool, (req.params as { id: string }).id, actorOf(req));
    return {};
  });
}
