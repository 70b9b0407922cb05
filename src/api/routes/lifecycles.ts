import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import type { ApiContext } from '../context.js';
import { KEEP_FOREVER, lifecycleKind } from '../../deploy/lifecycles.js';
import { scopedResourceRoutes } from '../spaceScope.js';

const retention = Type.Object({
  Unit: Type.Union([Type.Literal('Days'), Type.Literal('Items')]),
  QuantityToKeep: Type.Integer({ minimum: 0, maximum: 1_000_000 }),
  ShouldKeepForever: Type.Boolean(),
});
const environmentIds = Type.Union([Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { maxItems: 1000 }), Type.Null()]);

/** A phase as Octopus sends it: documents read back carry nulls for what a phase leaves to the lifecycle. */
const phase = Type.Object({
  Id: Type.Optional(Type.Union([Type.String({ maxLength: 200 }), Type.Null()])),
  Name: Type.String({ maxLength: 200 }),
  AutomaticDeploymentTargets: Type.Optional(environmentIds),
  OptionalDeploymentTargets: Type.Optional(environmentIds),
  MinimumEnvironmentsBeforePromotion: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: 1000 }), Type.Null()])),
  IsOptionalPhase: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
  ReleaseRetentionPolicy: Type.Optional(Type.Union([retention, Type.Null()])),
  TentacleRetentionPolicy: Type.Optional(Type.Union([retention, Type.Null()])),
});

/** What a create or modify takes; Id, SpaceId and Links of a document read back are the server's. */
const lifecycleBody = Type.Object({
  Name: Type.String({ minLength: 1, maxLength: 200 }),
  Description: Type.Optional(Type.String({ maxLength: 10_000 })),
  Phases: Type.Optional(Type.Array(phase, { maxItems: 100 })),
  ReleaseRetentionPolicy: Type.Optional(retention),
  TentacleRetentionPolicy: Type.Optional(retention),
});

export function lifecycleRoutes(app: FastifyInstance, ctx: ApiContext): void {
  scopedResourceRoutes(app, ctx, {
    segment: 'lifecycles',
    itemType: 'Lifecycle',
    kind: lifecycleKind,
    body: lifecycleBody,
    view: 'LifecycleView',
    edit: 'LifecycleEdit',
    unscoped: true,
    present: (row, self) => ({
      Id: row.id,
      SpaceId: row.space_id,
      Name: row.name,
      Description: row.doc.Description ?? '',
      Phases: row.doc.Phases ?? [],
      ReleaseRetentionPolicy: row.doc.ReleaseRetentionPolicy ?? KEEP_FOREVER,
      TentacleRetentionPolicy: row.doc.TentacleRetentionPolicy ?? KEEP_FOREVER,
      Links: { Self: self },
    }),
  });
}
