import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import type { ApiContext } from '../context.js';
import { environmentKind } from '../../deploy/environments.js';
import { scopedResourceRoutes } from '../spaceScope.js';

const name = Type.String({ minLength: 1, maxLength: 200 });

/** What a create or modify takes; Id, SpaceId and Links of a document read back are the server's. */
const environmentBody = Type.Object({
  Name: name,
  Description: Type.Optional(Type.String({ maxLength: 10_000 })),
  SortOrder: Type.Optional(Type.Integer({ minimum: -1_000_000, maximum: 1_000_000 })),
  UseGuidedFailure: Type.Optional(Type.Boolean()),
  AllowDynamicInfrastructure: Type.Optional(Type.Boolean()),
  ExtensionSettings: Type.Optional(Type.Array(Type.Object({}), { maxItems: 100 })),
});

export function environmentRoutes(app: FastifyInstance, ctx: ApiContext): void {
  scopedResourceRoutes(app, ctx, {
    segment: 'environments',
    itemType: 'Environment',
    kind: environmentKind,
    body: environmentBody,
    view: 'EnvironmentView',
    edit: 'EnvironmentEdit',
    unscoped: true,
    present: (row, self) => ({
      Id: row.id,
      SpaceId: row.space_id,
      Name: row.name,
      Description: row.doc.Description ?? '',
      SortOrder: row.sort_order,
      UseGuidedFailure: row.doc.UseGuidedFailure ?? false,
      AllowDynamicInfrastructure: row.doc.AllowDynamicInfrastructure ?? false,
      ExtensionSettings: row.doc.ExtensionSettings ?? [],
      Links: { Self: self, Machines: `${self}/machines{?skip,take,partialName,roles,isDisabled,healthStatuses,commStyles,tenantIds,tenantTags,shellNames}` },
    }),
  });
}
