// Feeds: every space has Octopus's built-in package feed, `feeds-builtin`, whose packages live in
// the cluster's shared Packages folder. It is part of every space (nothing to store), so a client's
// `feeds.list({take: 1}).Items[0]` finds it in a space just made.
import type { FastifyInstance } from 'fastify';
import { NotFoundError } from '../../errors.js';
import { requirePermission } from '../auth.js';
import type { ApiContext } from '../context.js';
import { page, pageQuery } from '../documents.js';
import { listParam } from '../query.js';
import { spaceOfRequest } from '../spaceScope.js';

export const BUILTIN_FEED_ID = 'feeds-builtin';
const BUILTIN_FEED_NAME = 'Octopus Server (built-in)';

export function builtinFeed(spaceId: string): object {
  const self = `/api/${spaceId}/feeds/${BUILTIN_FEED_ID}`;
  return {
    Id: BUILTIN_FEED_ID,
    SpaceId: spaceId,
    Name: BUILTIN_FEED_NAME,
    Slug: 'octopus-server-built-in',
    FeedType: 'BuiltIn',
    IsBuiltInRepoSyncEnabled: false,
    DeleteUnreleasedPackagesAfterDays: null,
    DownloadAttempts: 5,
    DownloadRetryBackoffSeconds: 10,
    PackageAcquisitionLocationOptions: ['Server', 'ExecutionTarget'],
    Links: {
      Self: self,
      Packages: `/api/${spaceId}/packages{?filter,latest,skip,take}`,
      SearchPackagesTemplate: `${self}/packages{?packageId,partialMatch,includeMultipleVersions,includeNotes,includePreRelease,versionRange,preReleaseTag,take,skip}`,
    },
  };
}

const idParams = { type: 'object', properties: { id: { type: 'string', minLength: 1, maxLength: 200 } }, required: ['id'] } as const;

export function feedRoutes(app: FastifyInstance, ctx: ApiContext): void {
  for (const prefix of ['/api/:spaceId', '/api']) {
    app.get(`${prefix}/feeds`, async (req) => {
      requirePermission(req, 'FeedView');
      const space = await spaceOfRequest(ctx, req);
      const q = pageQuery(req.query);
      const types = listParam(req.query, 'feedType');
      const match = (!q.ids.length || q.ids.includes(BUILTIN_FEED_ID))
        && (q.partialName === undefined || BUILTIN_FEED_NAME.toLowerCase().includes(q.partialName.toLowerCase()))
        && (!types.length || types.includes('BuiltIn'));
      const all = match ? [builtinFeed(space)] : [];
      return page('Feed', all.slice(q.skip, q.skip + q.take), q, all.length, `/api/${space}/feeds`);
    });
    app.get(`${prefix}/feeds/:id`, { schema: { params: idParams } }, async (req) => {
      requirePermission(req, 'FeedView');
      const space = await spaceOfRequest(ctx, req);
      const id = (req.params as { id: string }).id;
      if (id !== BUILTIN_FEED_ID) throw new NotFoundError(`There is no feed ${id} in space ${space}; this version has the built-in feed, ${BUILTIN_FEED_ID}, only.`);
      return builtinFeed(space);
    });
  }
}
