// The built-in feed's packages and build information: push (multipart, streamed), list, get,
// download (streamed, with Range), delete; build information as the official client sends it.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import Type from 'typebox';
import { recordEvent } from '../../deploy/events.js';
import type { Actor } from '../../deploy/scoped.js';
import { withTransaction } from '../../db/pool.js';
import { ConflictError, EnvironmentError, InputError, NotFoundError } from '../../errors.js';
import { deletePackage, feedLimits, type FeedAudit, getPackage, parseOverwriteMode, presentPackage, pushPackage } from '../../packages/feed.js';
import { isPackageVersion, packageIdProblem } from '../../packages/names.js';
import { lockPackageVersion, selectBuildInformation, selectPackagePage, upsertBuildInformation } from '../../packages/queries.js';
import { requirePermission } from '../auth.js';
import type { ApiContext } from '../context.js';
import { bindBody, page } from '../documents.js';
import { boolParam, intParam, stringParam } from '../query.js';
import { actorOf, spaceOfRequest } from '../spaceScope.js';
import { TAKE_ALL } from '../documents.js';

const CONTENT_TYPES: Record<string, string> = { '.zip': 'application/zip', '.nupkg': 'application/zip', '.tar': 'application/x-tar', '.tar.gz': 'application/gzip', '.tgz': 'application/gzip' };

const text = (max: number) => Type.String({ maxLength: max });
const buildInformationBody = Type.Object({
  spaceName: Type.Optional(text(200)),
  spaceId: Type.Optional(text(200)),
  PackageId: Type.String({ minLength: 1, maxLength: 100 }),
  Version: Type.String({ minLength: 1, maxLength: 349 }),
  OctopusBuildInformation: Type.Object({
    Branch: Type.Optional(text(1000)),
    BuildEnvironment: Type.Optional(text(200)),
    BuildNumber: Type.Optional(text(200)),
    BuildUrl: Type.Optional(text(2000)),
    VcsCommitNumber: Type.Optional(text(200)),
    VcsRoot: Type.Optional(text(2000)),
    VcsType: Type.Optional(text(100)),
    Commits: Type.Optional(Type.Array(Type.Object({ Id: text(200), Comment: Type.Optional(text(100_000)) }), { maxItems: 10_000 })),
    IssueTrackerName: Type.Optional(text(200)),
    WorkItems: Type.Optional(Type.Array(Type.Unknown(), { maxItems: 10_000 })),
  }),
});
type BuildInformationBody = { PackageId: string; Version: string; OctopusBuildInformation: Record<string, unknown> & { Commits?: { Id: string; Comment?: string }[] } };

const idParams = { type: 'object', properties: { id: { type: 'string', minLength: 1, maxLength: 500 } }, required: ['id'] } as const;

function packagesDir(ctx: ApiContext): string {
  const dir = ctx.sharedPaths()?.Packages;
  if (!dir) throw new EnvironmentError('Shared storage is not available on this node; the package feed cannot be used (run `cuttle doctor` on it).');
  return dir;
}

/** The byte range a `Range: bytes=a-b` header asks for, or undefined for the whole file; 416 details otherwise. */
function rangeOf(header: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined; // several ranges or a form we do not serve: the whole file (allowed)
  let start: number;
  let end: number;
  if (m[1] === '') { start = Math.max(0, size - Number(m[2])); end = size - 1; } else { start = Number(m[1]); end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1); }
  if (start > end || start >= size) return 'unsatisfiable';
  return { start, end };
}

/** The feed's changes as audit events by the request's user. */
function auditBy(actor: Actor): FeedAudit {
  return async (db, e) => { await recordEvent(db, { ...e, actor }); };
}

export function packageRoutes(app: FastifyInstance, ctx: ApiContext): void {
  // Streamed: nothing of a file is held in memory; a path in the part's file name is kept so it can be refused.
  void app.register(multipart, { preservePath: true, throwFileSizeLimit: false, fileHwm: 1024 * 1024, limits: { files: 1, fields: 20, parts: 30, fileSize: Number.MAX_SAFE_INTEGER, headerPairs: 100 } });

  for (const prefix of ['/api/:spaceId', '/api']) {
    app.post(`${prefix}/packages/raw`, async (req: FastifyRequest, reply) => {
      requirePermission(req, 'BuiltInFeedPush');
      const space = await spaceOfRequest(ctx, req);
      const mode = parseOverwriteMode(stringParam(req.query, 'overwriteMode'), stringParam(req.query, 'replace'));
      if (!req.isMultipart()) throw new InputError('Send the package as multipart/form-data with the file in the field fileToUpload.');
      const dir = packagesDir(ctx);
      const limits = await feedLimits(ctx.pool);
      const part = await req.file();
      if (!part) throw new InputError('The request holds no file; send the package in the multipart field fileToUpload.');
      try {
        const pushed = await pushPackage({ pool: ctx.pool, packagesDir: dir, spaceId: space, fileName: part.filename, data: part.file, mode, audit: auditBy(actorOf(req)) }, limits.maxBytes, limits.archive);
        return await reply.code(pushed.outcome === 'ignored' ? 200 : 201).send(await presentPackage(ctx.pool, pushed.row));
      } finally {
        // A refused push still reads the rest of the body, so the client gets the answer rather than a reset.
        if (!part.file.readableEnded) part.file.resume();
      }
    });

    app.get(`${prefix}/packages`, async (req) => {
      requirePermission(req, 'FeedView');
      const space = await spaceOfRequest(ctx, req);
      const q = { skip: intParam(req.query, 'skip', 0, 0, TAKE_ALL), take: intParam(req.query, 'take', 30, 0, TAKE_ALL), ids: [] };
      const filter = stringParam(req.query, 'filter');
      const packageId = stringParam(req.query, 'nuGetPackageId') ?? stringParam(req.query, 'packageId');
      const p = await selectPackagePage(ctx.pool, space, { ...(filter ? { filter } : {}), ...(packageId ? { packageId } : {}), latest: boolParam(req.query, 'latest', false), skip: q.skip, take: q.take });
      const items = [];
      for (const r of p.rows) items.push(await presentPackage(ctx.pool, r));
      return page('Package', items, q, p.total, `/api/${space}/packages`);
    });

    app.get(`${prefix}/packages/:id`, { schema: { params: idParams } }, async (req) => {
      requirePermission(req, 'FeedView');
      const space = await spaceOfRequest(ctx, req);
      return presentPackage(ctx.pool, await getPackage(ctx.pool, space, (req.params as { id: string }).id));
    });

    app.get(`${prefix}/packages/:id/raw`, { schema: { params: idParams } }, async (req, reply) => {
      requirePermission(req, 'BuiltInFeedDownload');
      const space = await spaceOfRequest(ctx, req);
      const row = await getPackage(ctx.pool, space, (req.params as { id: string }).id);
      const root = resolve(packagesDir(ctx));
      const file = resolve(join(root, row.rel_path));
      if (!file.startsWith(root + sep)) throw new NotFoundError(`There is no package ${row.id}.`);
      const s = await stat(file).catch(() => undefined);
      if (!s) throw new NotFoundError(`The file of package ${row.id} is missing from shared storage (this node's Packages folder may not be the shared one; run \`cuttle doctor\`).`);
      const range = rangeOf(req.headers.range, s.size);
      void reply.header('Accept-Ranges', 'bytes')
        .header('Content-Type', CONTENT_TYPES[row.file_extension] ?? 'application/octet-stream')
        .header('Content-Disposition', `attachment; filename="${row.package_id}.${row.version}${row.file_extension}"`)
        .header('ETag', `"${row.hash}"`)
        .header('Cache-Control', 'private, max-age=0');
      if (range === 'unsatisfiable') return reply.code(416).header('Content-Range', `bytes */${s.size}`).send();
      if (range) {
        return reply.code(206).header('Content-Range', `bytes ${range.start}-${range.end}/${s.size}`).header('Content-Length', range.end - range.start + 1)
          .send(createReadStream(file, { start: range.start, end: range.end, highWaterMark: 1024 * 1024 }));
      }
      return reply.header('Content-Length', s.size).send(createReadStream(file, { highWaterMark: 1024 * 1024 }));
    });

    app.delete(`${prefix}/packages/:id`, { schema: { params: idParams } }, async (req) => {
      requirePermission(req, 'BuiltInFeedAdminister');
      const space = await spaceOfRequest(ctx, req);
      await deletePackage(ctx.pool, packagesDir(ctx), space, (req.params as { id: string }).id, auditBy(actorOf(req)));
      return {};
    });

    app.post(`${prefix}/build-information`, { schema: { body: buildInformationBody }, preValidation: bindBody(buildInformationBody) }, async (req, reply) => {
      requirePermission(req, 'BuiltInFeedPush');
      const space = await spaceOfRequest(ctx, req);
      const mode = parseOverwriteMode(stringParam(req.query, 'overwriteMode'), undefined);
      const body = req.body as BuildInformationBody;
      const idProblem = packageIdProblem(body.PackageId);
      if (idProblem) throw new InputError(`PackageId ${idProblem}.`);
      if (!isPackageVersion(body.Version)) throw new InputError(`Version "${body.Version}" is not a package version (SemVer, e.g. 1.2.3 or 1.2.3-beta.1).`);
      const b = body.OctopusBuildInformation;
      const doc = {
        Branch: b.Branch ?? '', BuildEnvironment: b.BuildEnvironment ?? '', BuildNumber: b.BuildNumber ?? '', BuildUrl: b.BuildUrl ?? '',
        VcsCommitNumber: b.VcsCommitNumber ?? '', VcsRoot: b.VcsRoot ?? '', VcsType: b.VcsType ?? '', IssueTrackerName: b.IssueTrackerName ?? '',
        Commits: (b.Commits ?? []).map((c) => ({ Id: c.Id, Comment: c.Comment ?? '' })), WorkItems: b.WorkItems ?? [],
      };
      const id = `BuildInformation-${body.PackageId}.${body.Version}`;
      const result = await withTransaction(ctx.pool, async (c) => {
        await lockPackageVersion(c, space, `build:${body.PackageId}`, body.Version);
        const existing = await selectBuildInformation(c, space, body.PackageId, body.Version);
        if (existing && mode === 'FailIfExists') throw new ConflictError(`Metadata for the specified Package ID and version already exists. (${existing.package_id} ${existing.version}; push with overwriteMode=OverwriteExisting to replace it.)`);
        if (existing && mode === 'IgnoreIfExists') return { row: existing, created: false };
        const row = await upsertBuildInformation(c, space, existing?.id ?? id, existing?.package_id ?? body.PackageId, existing?.version ?? body.Version, doc);
        await recordEvent(c, {
          spaceId: space, category: existing ? 'Modified' : 'Created', actor: actorOf(req),
          message: `${existing ? 'Replaced' : 'Pushed'} build information for package ${row.package_id} ${row.version}`, relatedDocumentIds: [row.id],
        });
        return { row, created: !existing };
      });
      const r = result.row;
      return reply.code(result.created ? 201 : 200).send({ Id: r.id, PackageId: r.package_id, Version: r.version, ...r.doc, Created: r.created.toISOString(), Links: { Self: `/api/${space}/build-information/${r.id}` } });
    });
  }
}
