// Projects and channels (the factory's list, get, create, modify, delete), a project's channels,
// its deployment process and its variables.
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import { channelKind } from '../../deploy/channels.js';
import { getProcess, modifyProcess, presentProcess, START_TRIGGERS, STEP_CONDITIONS, type ProcessInput } from '../../deploy/process.js';
import { processIdOf, projectKind, variableSetIdOf } from '../../deploy/projects.js';
import { getScoped } from '../../deploy/scoped.js';
import { getVariableSet, modifyVariableSet, presentVariableSet, type VariableSetInput } from '../../deploy/variables.js';
import { selectScopedPage, type ScopedRow } from '../../deploy/queries.js';
import { channelTable } from '../../deploy/tables.js';
import { selectRelease, type ReleaseRow } from '../../deploy/releaseQueries.js';
import { processSnapshotIdOf, releaseOfSnapshot, variablesSnapshotIdOf } from '../../deploy/releases.js';
import { InputError, NotFoundError } from '../../errors.js';
import { requirePermission } from '../auth.js';
import type { ApiContext } from '../context.js';
import { bindBody, page, pageQuery } from '../documents.js';
import { actorOf, scopedResourceRoutes, spaceOfRequest } from '../spaceScope.js';

const name = Type.String({ minLength: 1, maxLength: 200 });
const id = Type.String({ minLength: 1, maxLength: 200 });
const text = (max: number) => Type.String({ maxLength: max });
const ids = Type.Array(id, { maxItems: 1000 });
const anyList = Type.Array(Type.Unknown(), { maxItems: 1000 });
const anyObject = Type.Record(Type.String(), Type.Unknown());
/** Octopus sends action and step properties as strings. */
const properties = Type.Record(Type.String({ maxLength: 500 }), Type.String({ maxLength: 1024 * 1024 }));
const nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

const projectBody = Type.Object({
  Name: name,
  ProjectGroupId: id,
  LifecycleId: id,
  Description: Type.Optional(text(10_000)),
  Slug: Type.Optional(text(200)),
  IsDisabled: Type.Optional(Type.Boolean()),
  DiscreteChannelRelease: Type.Optional(Type.Boolean()),
  IncludedLibraryVariableSetIds: Type.Optional(ids),
  DefaultToSkipIfAlreadyInstalled: Type.Optional(Type.Boolean()),
  TenantedDeploymentMode: Type.Optional(text(100)),
  DefaultGuidedFailureMode: Type.Optional(text(100)),
  VersioningStrategy: Type.Optional(Type.Object({ Template: text(1000) })),
  ReleaseCreationStrategy: Type.Optional(anyObject),
  Templates: Type.Optional(anyList),
  AutoDeployReleaseOverrides: Type.Optional(anyList),
  AutoCreateRelease: Type.Optional(Type.Boolean()),
  ClonedFromProjectId: Type.Optional(nullable(text(200))),
  ExtensionSettings: Type.Optional(anyList),
  ProjectConnectivityPolicy: Type.Optional(anyObject),
  ResumeDeploymentsOnNodeFailure: Type.Optional(Type.Boolean()),
});

const channelBody = Type.Object({
  Name: name,
  ProjectId: id,
  Description: Type.Optional(text(10_000)),
  LifecycleId: Type.Optional(nullable(text(200))),
  IsDefault: Type.Optional(Type.Boolean()),
  Slug: Type.Optional(text(200)),
  Rules: Type.Optional(anyList),
  TenantTags: Type.Optional(Type.Array(text(200), { maxItems: 1000 })),
});

const action = Type.Object({
  Id: Type.Optional(nullable(text(200))),
  Name: text(200),
  ActionType: text(200),
  Notes: Type.Optional(nullable(text(10_000))),
  IsDisabled: Type.Optional(Type.Boolean()),
  IsRequired: Type.Optional(Type.Boolean()),
  CanBeUsedForProjectVersioning: Type.Optional(Type.Boolean()),
  WorkerPoolId: Type.Optional(nullable(text(200))),
  WorkerPoolVariable: Type.Optional(nullable(text(200))),
  Container: Type.Optional(nullable(Type.Object({ Image: Type.Optional(nullable(text(500))), FeedId: Type.Optional(nullable(text(200))) }))),
  Environments: Type.Optional(ids),
  ExcludedEnvironments: Type.Optional(ids),
  Channels: Type.Optional(ids),
  TenantTags: Type.Optional(Type.Array(text(200), { maxItems: 1000 })),
  Packages: Type.Optional(Type.Array(anyObject, { maxItems: 100 })),
  Condition: Type.Optional(nullable(text(100))),
  Properties: Type.Optional(properties),
  StepPackageVersion: Type.Optional(nullable(text(100))),
  Inputs: Type.Optional(Type.Unknown()),
}, { additionalProperties: true });

const step = Type.Object({
  Id: Type.Optional(nullable(text(200))),
  Name: text(200),
  Properties: Type.Optional(properties),
  Condition: Type.Optional(Type.Enum([...STEP_CONDITIONS])),
  StartTrigger: Type.Optional(Type.Enum([...START_TRIGGERS])),
  PackageRequirement: Type.Optional(text(100)),
  Actions: Type.Array(action, { maxItems: 100 }),
}, { additionalProperties: true });

const processBody = Type.Object({
  Version: Type.Optional(Type.Integer({ minimum: 0 })),
  Steps: Type.Array(step, { maxItems: 500 }),
});

const variable = Type.Object({
  Id: Type.Optional(nullable(text(200))),
  Name: text(1000),
  Value: Type.Optional(nullable(Type.String({ maxLength: 1024 * 1024 }))),
  Description: Type.Optional(nullable(text(10_000))),
  Scope: Type.Optional(Type.Record(Type.String({ maxLength: 100 }), Type.Array(text(200), { maxItems: 1000 }))),
  IsEditable: Type.Optional(Type.Boolean()),
  Type: Type.Optional(Type.Enum(['String', 'Sensitive', 'Certificate', 'AmazonWebServicesAccount', 'AzureAccount', 'GoogleCloudAccount', 'WorkerPool'])),
  IsSensitive: Type.Optional(Type.Boolean()),
  Prompt: Type.Optional(Type.Unknown()),
}, { additionalProperties: true });

const variablesBody = Type.Object({
  Version: Type.Optional(Type.Integer({ minimum: 0 })),
  Variables: Type.Array(variable, { maxItems: 10_000 }),
});

const idParams = { type: 'object', properties: { id: { type: 'string', minLength: 1, maxLength: 200 } }, required: ['id'] } as const;

export function presentProject(row: ScopedRow, self: string): object {
  const d = row.doc;
  const space = `/api/${row.space_id}`;
  return {
    Id: row.id,
    SpaceId: row.space_id,
    Name: row.name,
    ...d,
    ProjectGroupId: row.project_group_id,
    LifecycleId: row.lifecycle_id,
    DeploymentProcessId: processIdOf(row.id),
    VariableSetId: variableSetIdOf(row.id),
    IsVersionControlled: false,
    PersistenceSettings: { Type: 'Database' },
    Links: {
      Self: self,
      Channels: `${self}/channels{?skip,take,partialName}`,
      DeploymentProcess: `${self}/deploymentprocesses`,
      Variables: `${space}/variables/${variableSetIdOf(row.id)}`,
      Releases: `${self}/releases{/version}{?skip,take,searchByVersion}`,
      Web: `/app#/${row.space_id}/projects/${row.id}`,
    },
  };
}

export function presentChannel(row: ScopedRow, self: string): object {
  return {
    Id: row.id,
    SpaceId: row.space_id,
    Name: row.name,
    ...row.doc,
    ProjectId: row.project_id,
    LifecycleId: row.lifecycle_id ?? null,
    IsDefault: row.is_default,
    Links: { Self: self, Project: `/api/${row.space_id}/projects/${String(row.project_id)}`, Releases: `${self}/releases{?skip,take,searchByVersion}` },
  };
}

/** The release a snapshot id belongs to, in this space (404 naming the snapshot otherwise). */
async function snapshotRelease(ctx: ApiContext, space: string, id: string, releaseId: string): Promise<ReleaseRow> {
  const release = await selectRelease(ctx.pool, space, releaseId);
  if (!release || ![processSnapshotIdOf(release), variablesSnapshotIdOf(release)].includes(id)) {
    throw new NotFoundError(`There is no snapshot ${id} in space ${space}; a release names its own (ProjectDeploymentProcessSnapshotId, ProjectVariableSetSnapshotId).`);
  }
  return release;
}

function presentProcessSnapshot(r: ReleaseRow): object {
  return {
    Id: processSnapshotIdOf(r), SpaceId: r.space_id, ProjectId: r.project_id, Version: 0, LastSnapshotId: null, Steps: r.process_snapshot,
    Links: { Self: `/api/${r.space_id}/deploymentprocesses/${processSnapshotIdOf(r)}`, Project: `/api/${r.space_id}/projects/${r.project_id}`, Release: `/api/${r.space_id}/releases/${r.id}` },
  };
}

export function projectRoutes(app: FastifyInstance, ctx: ApiContext): void {
  scopedResourceRoutes(app, ctx, {
    segment: 'projects', itemType: 'Project', kind: projectKind, body: projectBody,
    view: 'ProjectView', edit: 'ProjectEdit', unscoped: true, present: presentProject,
  });
  scopedResourceRoutes(app, ctx, {
    segment: 'channels', itemType: 'Channel', kind: channelKind, body: channelBody,
    view: 'ProjectView', edit: 'ProjectEdit', unscoped: true, present: presentChannel,
  });

  const processBinding = { schema: { body: processBody, params: idParams }, preValidation: bindBody(processBody) };
  const variablesBinding = { schema: { body: variablesBody, params: idParams }, preValidation: bindBody(variablesBody) };
  for (const prefix of ['/api/:spaceId', '/api']) {
    app.get(`${prefix}/projects/:id/channels`, { schema: { params: idParams } }, async (req) => {
      requirePermission(req, 'ProjectView');
      const space = await spaceOfRequest(ctx, req);
      const project = await getScoped(ctx.pool, projectKind, space, (req.params as { id: string }).id);
      const q = pageQuery(req.query);
      const p = await selectScopedPage(ctx.pool, channelTable, space, q, { column: 'project_id', value: project.id });
      return page('Channel', p.rows.map((r) => presentChannel(r, `/api/${space}/channels/${r.id}`)), q, p.total, `/api/${space}/projects/${project.id}/channels`);
    });

    // The process by project (what the client uses) and by its own id.
    for (const [path, by] of [['projects/:id/deploymentprocesses', 'projectId'], ['deploymentprocesses/:id', 'id']] as const) {
      app.get(`${prefix}/${path}`, { schema: { params: idParams } }, async (req) => {
        requirePermission(req, 'ProcessView');
        const space = await spaceOfRequest(ctx, req);
        const id = (req.params as { id: string }).id;
        // A release's frozen copy (its ProjectDeploymentProcessSnapshotId).
        const snapshotOf = by === 'id' ? releaseOfSnapshot(id) : undefined;
        if (snapshotOf) return presentProcessSnapshot(await snapshotRelease(ctx, space, id, snapshotOf));
        return presentProcess(await getProcess(ctx.pool, space, { [by]: id }));
      });
      app.put(`${prefix}/${path}`, processBinding, async (req) => {
        requirePermission(req, 'ProcessEdit');
        const space = await spaceOfRequest(ctx, req);
        if (by === 'id' && releaseOfSnapshot((req.params as { id: string }).id)) throw new InputError('A release\'s snapshot of the deployment process cannot be changed; change the project\'s process and create a new release.');
        const row = await modifyProcess(ctx.pool, space, { [by]: (req.params as { id: string }).id }, req.body as ProcessInput, actorOf(req));
        return presentProcess(row);
      });
    }

    app.get(`${prefix}/variables/:id`, { schema: { params: idParams } }, async (req) => {
      requirePermission(req, 'VariableView');
      const space = await spaceOfRequest(ctx, req);
      const id = (req.params as { id: string }).id;
      const snapshotOf = releaseOfSnapshot(id);
      if (snapshotOf) {
        const release = await snapshotRelease(ctx, space, id, snapshotOf);
        return presentVariableSet(ctx.pool, { id, space_id: space, owner_id: release.project_id, version: 0, variables: release.variables_snapshot });
      }
      return presentVariableSet(ctx.pool, await getVariableSet(ctx.pool, space, id));
    });
    app.put(`${prefix}/variables/:id`, variablesBinding, async (req) => {
      requirePermission(req, 'VariableEdit');
      const space = await spaceOfRequest(ctx, req);
      if (releaseOfSnapshot((req.params as { id: string }).id)) throw new InputError('A release\'s snapshot of the variables cannot be changed; change the project\'s variables and create a new release (or deploy with UpdateVariableSnapshot).');
      const row = await modifyVariableSet(ctx.pool, ctx.key, space, (req.params as { id: string }).id, req.body as VariableSetInput, actorOf(req));
      return presentVariableSet(ctx.pool, row);
    });
  }
}
