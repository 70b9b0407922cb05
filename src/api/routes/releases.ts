// Releases and deployments: Octopus's executions API (`releases/create/v1`,
// `deployments/create/untenanted/v1`, what the official client sends) and the resources it reads.
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import { createDeployment, createDeployments, getDeployment, listDeployments, presentDeployment, type CreateDeploymentsCommand, type DeploymentDoc } from '../../deploy/deployments.js';
import { projectKind } from '../../deploy/projects.js';
import { TAKE_EVERYTHING } from '../../deploy/queries.js';
import { selectRelease } from '../../deploy/releaseQueries.js';
import { createRelease, getRelease, listReleases, presentRelease, type CreateReleaseCommand } from '../../deploy/releases.js';
import { getScoped } from '../../deploy/scoped.js';
import { channelKind } from '../../deploy/channels.js';
import { InputError, NotFoundError } from '../../errors.js';
import { TASK_STATES, type TaskState } from '../../tasks/types.js';
import { requirePermission } from '../auth.js';
import type { ApiContext } from '../context.js';
import { bindBody, page, pageQuery } from '../documents.js';
import { listParam, stringParam } from '../query.js';
import { actorOf, spaceOfRequest } from '../spaceScope.js';

const name = Type.String({ minLength: 1, maxLength: 200 });
const text = (max: number) => Type.String({ maxLength: max });
const names = Type.Array(text(200), { maxItems: 100 });

/** The fields every execution command shares (the client sends them all, often empty). */
const executionBase = {
  spaceName: Type.Optional(text(200)),
  spaceId: Type.Optional(text(200)),
  spaceIdOrName: Type.Optional(text(200)),
  ProjectName: name,
  ForcePackageDownload: Type.Optional(Type.Boolean()),
  SpecificMachineNames: Type.Optional(names),
  ExcludedMachineNames: Type.Optional(names),
  SkipStepNames: Type.Optional(names),
  UseGuidedFailure: Type.Optional(Type.Boolean()),
  RunAt: Type.Optional(text(100)),
  NoRunAfter: Type.Optional(text(100)),
  Variables: Type.Optional(Type.Record(Type.String({ maxLength: 1000 }), Type.String({ maxLength: 100_000 }))),
  DeploymentFreezeOverrideReason: Type.Optional(text(10_000)),
  DeploymentFreezeNames: Type.Optional(names),
};

const createReleaseBody = Type.Object({
  spaceName: Type.Optional(text(200)),
  spaceId: Type.Optional(text(200)),
  spaceIdOrName: Type.Optional(text(200)),
  ProjectName: name,
  ReleaseVersion: Type.Optional(text(349)),
  ChannelName: Type.Optional(text(200)),
  Packages: Type.Optional(Type.Array(text(500), { maxItems: 1000 })),
  PackageVersion: Type.Optional(text(349)),
  PackagePrerelease: Type.Optional(text(200)),
  GitCommit: Type.Optional(text(200)),
  GitRef: Type.Optional(text(500)),
  ReleaseNotes: Type.Optional(text(1024 * 1024)),
  IgnoreIfAlreadyExists: Type.Optional(Type.Boolean()),
  IgnoreChannelRules: Type.Optional(Type.Boolean()),
  CustomFields: Type.Optional(Type.Record(Type.String({ maxLength: 200 }), Type.String({ maxLength: 10_000 }))),
});

const deployUntenantedBody = Type.Object({
  ...executionBase,
  ReleaseVersion: Type.String({ minLength: 1, maxLength: 349 }),
  EnvironmentNames: Type.Array(text(200), { minItems: 1, maxItems: 100 }),
  ForcePackageRedeployment: Type.Optional(Type.Boolean()),
  UpdateVariableSnapshot: Type.Optional(Type.Boolean()),
  Comments: Type.Optional(text(10_000)),
});

const deploymentBody = Type.Object({
  ReleaseId: name,
  EnvironmentId: name,
  Comments: Type.Optional(text(10_000)),
  SkipActions: Type.Optional(Type.Array(text(200), { maxItems: 1000 })),
  SpecificMachineIds: Type.Optional(names),
  ExcludedMachineIds: Type.Optional(names),
  UseGuidedFailure: Type.Optional(Type.Boolean()),
  ForcePackageDownload: Type.Optional(Type.Boolean()),
  ForcePackageRedeployment: Type.Optional(Type.Boolean()),
  QueueTime: Type.Optional(text(100)),
  QueueTimeExpiry: Type.Optional(text(100)),
  FormValues: Type.Optional(Type.Record(Type.String({ maxLength: 200 }), Type.Unknown())),
  TenantId: Type.Optional(text(200)),
});

const idParams = { type: 'object', properties: { id: { type: 'string', minLength: 1, maxLength: 200 } }, required: ['id'] } as const;

function taskStates(query: unknown): TaskState[] {
  const states = listParam(query, 'taskState');
  const bad = states.filter((s) => !(TASK_STATES as readonly string[]).includes(s));
  if (bad.length) throw new InputError(`The query parameter taskState names ${bad.join(', ')}; use one or more of ${TASK_STATES.join(', ')}.`);
  return states as TaskState[];
}

export function releaseRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const bound = (schema: Parameters<typeof bindBody>[0]) => ({ schema: { body: schema }, preValidation: bindBody(schema) });

  for (const prefix of ['/api/:spaceId', '/api']) {
    app.post(`${prefix}/releases/create/v1`, bound(createReleaseBody), async (req) => {
      requirePermission(req, 'ReleaseCreate');
      const space = await spaceOfRequest(ctx, req);
      const { release } = await createRelease(ctx.pool, space, req.body as CreateReleaseCommand, actorOf(req));
      return { ReleaseId: release.id, ReleaseVersion: release.version };
    });

    app.post(`${prefix}/deployments/create/untenanted/v1`, bound(deployUntenantedBody), async (req) => {
      requirePermission(req, 'DeploymentCreate');
      const space = await spaceOfRequest(ctx, req);
      const queued = await createDeployments(ctx.pool, space, req.body as CreateDeploymentsCommand, actorOf(req));
      return { DeploymentServerTasks: queued.map((q) => ({ DeploymentId: q.deploymentId, ServerTaskId: q.task.id })) };
    });

    app.post(`${prefix}/deployments/create/tenanted/v1`, async (req) => {
      requirePermission(req, 'DeploymentCreate');
      await spaceOfRequest(ctx, req);
      throw new InputError('Tenanted deployments are not supported: Cuttle deploys untenanted projects only; use deployments/create/untenanted/v1.');
    });

    app.post(`${prefix}/deployments`, bound(deploymentBody), async (req, reply) => {
      requirePermission(req, 'DeploymentCreate');
      const space = await spaceOfRequest(ctx, req);
      const q = await createDeployment(ctx.pool, space, req.body as DeploymentDoc, actorOf(req));
      return reply.code(201).send(presentDeployment(await getDeployment(ctx.pool, space, q.deploymentId)));
    });

    app.get(`${prefix}/releases`, async (req) => {
      requirePermission(req, 'ReleaseView');
      const space = await spaceOfRequest(ctx, req);
      const q = pageQuery(req.query);
      const searchByVersion = stringParam(req.query, 'searchByVersion');
      const p = await listReleases(ctx.pool, space, { ids: [...q.ids], skip: q.skip, take: q.take, ...(searchByVersion ? { searchByVersion } : {}) });
      return page('Release', p.rows.map(presentRelease), q, p.total, `/api/${space}/releases`);
    });

    app.get(`${prefix}/releases/:id`, { schema: { params: idParams } }, async (req) => {
      requirePermission(req, 'ReleaseView');
      const space = await spaceOfRequest(ctx, req);
      return presentRelease(await getRelease(ctx.pool, space, (req.params as { id: string }).id));
    });

    app.get(`${prefix}/projects/:id/releases`, { schema: { params: idParams } }, async (req) => {
      requirePermission(req, 'ReleaseView');
      const space = await spaceOfRequest(ctx, req);
      const project = await getScoped(ctx.pool, projectKind, space, (req.params as { id: string }).id);
      const q = pageQuery(req.query);
      const searchByVersion = stringParam(req.query, 'searchByVersion');
      const p = await listReleases(ctx.pool, space, { projectId: project.id, ids: [...q.ids], skip: q.skip, take: q.take, ...(searchByVersion ? { searchByVersion } : {}) });
      return page('Release', p.rows.map(presentRelease), q, p.total, `/api/${space}/projects/${project.id}/releases`);
    });

    app.get(`${prefix}/projects/:id/releases/:version`, async (req) => {
      requirePermission(req, 'ReleaseView');
      const space = await spaceOfRequest(ctx, req);
      const { id, version } = req.params as { id: string; version: string };
      const project = await getScoped(ctx.pool, projectKind, space, id);
      const p = await listReleases(ctx.pool, space, { projectId: project.id, ids: [], skip: 0, take: TAKE_EVERYTHING });
      const release = p.rows.find((r) => r.version.toLowerCase() === version.toLowerCase());
      if (!release) throw new NotFoundError(`The project ${project.name} has no release ${version}.`);
      return presentRelease(release);
    });

    app.get(`${prefix}/channels/:id/releases`, { schema: { params: idParams } }, async (req) => {
      requirePermission(req, 'ReleaseView');
      const space = await spaceOfRequest(ctx, req);
      const channel = await getScoped(ctx.pool, channelKind, space, (req.params as { id: string }).id);
      const q = pageQuery(req.query);
      const p = await listReleases(ctx.pool, space, { channelId: channel.id, ids: [...q.ids], skip: q.skip, take: q.take });
      return page('Release', p.rows.map(presentRelease), q, p.total, `/api/${space}/channels/${channel.id}/releases`);
    });

    app.get(`${prefix}/releases/:id/deployments`, { schema: { params: idParams } }, async (req) => {
      requirePermission(req, 'DeploymentView');
      const space = await spaceOfRequest(ctx, req);
      const release = await getRelease(ctx.pool, space, (req.params as { id: string }).id);
      const q = pageQuery(req.query);
      const p = await listDeployments(ctx.pool, space, { ids: [...q.ids], projects: [], environments: [], channels: [], releaseId: release.id, taskStates: taskStates(req.query), skip: q.skip, take: q.take });
      return page('Deployment', p.rows.map((d) => presentDeployment(d, release)), q, p.total, `/api/${space}/releases/${release.id}/deployments`);
    });

    app.get(`${prefix}/deployments`, async (req) => {
      requirePermission(req, 'DeploymentView');
      const space = await spaceOfRequest(ctx, req);
      const q = pageQuery(req.query);
      const p = await listDeployments(ctx.pool, space, {
        ids: [...q.ids], projects: listParam(req.query, 'projects'), environments: listParam(req.query, 'environments'),
        channels: listParam(req.query, 'channels'), taskStates: taskStates(req.query), skip: q.skip, take: q.take,
      });
      return page('Deployment', p.rows.map((d) => presentDeployment(d)), q, p.total, `/api/${space}/deployments`);
    });

    app.get(`${prefix}/deployments/:id`, { schema: { params: idParams } }, async (req) => {
      requirePermission(req, 'DeploymentView');
      const space = await spaceOfRequest(ctx, req);
      const d = await getDeployment(ctx.pool, space, (req.params as { id: string }).id);
      return presentDeployment(d, await selectRelease(ctx.pool, space, d.release_id));
    });
  }
}
