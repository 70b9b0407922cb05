import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { EnvironmentError, NotFoundError } from '../../errors.js';
import { getArtifact, getTask, listArtifacts, type ArtifactRow } from '../../tasks/queries.js';
import { intParam, stringParam } from '../query.js';
import { collection } from '../resources.js';
import type { ApiContext } from '../context.js';
import { requirePermission } from '../auth.js';
import { DEFAULT_SPACE, mayViewTask, spaceOf, viewableTaskTypes } from './tasks.js';

function artifactResource(a: ArtifactRow): object {
  return {
    Id: a.id, SpaceId: a.spaceId, Filename: a.filename, Source: null, ServerTaskId: a.taskId,
    Created: a.created.toISOString(), LogCorrelationId: null, Length: a.length,
    Links: { Self: `/api/${a.spaceId}/artifacts/${a.id}`, Content: `/api/${a.spaceId}/artifacts/${a.id}/content` },
  };
}

export function artifactRoutes(app: FastifyInstance, ctx: ApiContext): void {
  for (const prefix of ['/api', '/api/:spaceId']) {
    app.get(`${prefix}/artifacts`, async (req) => {
      requirePermission(req, 'ArtifactView');
      const space = (await spaceOf(ctx, req)) ?? DEFAULT_SPACE;
      const skip = intParam(req.query, 'skip', 0);
      const take = intParam(req.query, 'take', 30, 0, 1000);
      // Only artifacts of tasks the caller may view (an ad-hoc script's are an administrator's).
      const r = await listArtifacts(ctx.pool, space, stringParam(req.query, 'regarding'), skip, take, viewableTaskTypes(ctx, req));
      return collection('Artifact', r.items.map(artifactResource), skip, take, r.total, `/api/${space}/artifacts`);
    });

    /** The artifact, when the caller may see it: one of a task they may not view is not there. */
    const find = async (req: FastifyRequest) => {
      requirePermission(req, 'ArtifactView');
      const id = (req.params as { id: string }).id;
      const space = await spaceOf(ctx, req);
      const a = await getArtifact(ctx.pool, id);
      const task = a ? await getTask(ctx.pool, a.taskId) : undefined;
      if (!a || !task || (space && a.spaceId !== space) || !mayViewTask(ctx, req, task.name)) throw new NotFoundError(`There is no artifact ${id}.`);
      return a;
    };

    app.get(`${prefix}/artifacts/:id`, async (req) => artifactResource(await find(req)));

    app.get(`${prefix}/artifacts/:id/content`, async (req, reply) => {
      const a = await find(req);
      const dir = ctx.sharedPaths()?.Artifacts;
      if (!dir) throw new EnvironmentError('Shared storage is not available on this node.');
      const root = resolve(dir);
      const file = resolve(join(root, a.relPath));
      if (!file.startsWith(root + sep)) throw new NotFoundError(`There is no artifact ${a.id}.`);
      const s = await stat(file).catch(() => undefined);
      if (!s) throw new NotFoundError(`The file of artifact ${a.id} is missing from shared storage (deleted by retention, or this node's Artifacts folder is not the shared one).`);
      const safeName = a.filename.replace(/["\r\n]/g, '_');
      return reply.header('content-type', 'application/octet-stream').header('content-length', String(s.size))
        .header('content-disposition', `attachment; filename="${safeName}"`).send(createReadStream(file));
    });
  }
}
