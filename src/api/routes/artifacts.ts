import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { EnvironmentError, NotFoundError } from '../../errors.js';
import { getArtifact, listArtifacts, type ArtifactRow } from '../../tasks/queries.js';
import { intParam, stringParam } from '../query.js';
import { collection } from '../resources.js';
import type { ApiContext } from '../context.js';
import { DEFAULT_SPACE, spaceOf } from './tasks.js';

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
      const space = spaceOf(req) ?? DEFAULT_SPACE;
      const skip = intParam(req.query, 'skip', 0);
      const take = intParam(req.query, 'take', 30, 0, 1000);
      const r = await listArtifacts(ctx.pool, space, stringParam(req.query, 'regarding'), skip, take);
      return collection('Artifact', r.items.map(artifactResource), skip, take, r.total, `/api/${space}/artifacts`);
    });

    const find = async (id: string, space: string | undefined) => {
      const a = await getArtifact(ctx.pool, id);
      if (!a || (space && a.spaceId !== space)) throw new NotFoundError(`There is no artifact ${id}.`);
      return a;
    };

    app.get(`${prefix}/artifacts/:id`, async (req) => artifactResource(await find((req.params as { id: string }).id, spaceOf(req))));

    app.get(`${prefix}/artifacts/:id/content`, async (req, reply) => {
      const a = await find((req.params as { id: string }).id, spaceOf(req));
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
