import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import type { ApiContext } from '../context.js';
import { projectGroupKind } from '../../deploy/projectGroups.js';
import { scopedResourceRoutes } from '../spaceScope.js';

/** What a create or modify takes; Id, SpaceId and Links of a document read back are the server's. */
const projectGroupBody = Type.Object({
  Name: Type.String({ minLength: 1, maxLength: 200 }),
  Description: Type.Optional(Type.String({ maxLength: 10_000 })),
  EnvironmentIds: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { maxItems: 1000 })),
  RetentionPolicyId: Type.Optional(Type.String({ maxLength: 200 })),
});

export function projectGroupRoutes(app: FastifyInstance, ctx: ApiContext): void {
  scopedResourceRoutes(app, ctx, {
    segment: 'projectgroups',
    itemType: 'ProjectGroup',
    kind: projectGroupKind,
    body: projectGroupBody,
    view: 'ProjectGroupView',
    edit: 'ProjectGroupEdit',
    unscoped: true,
    present: (row, self) => ({
      Id: row.id,
      SpaceId: row.space_id,
      Name: row.name,
      Description: row.doc.Description ?? '',
      EnvironmentIds: row.doc.EnvironmentIds ?? [],
      RetentionPolicyId: row.doc.RetentionPolicyId ?? null,
      Links: { Self: self },
    }),
  });
}
