// The built-in feed: package files in the shared Packages folder, rows in the database. A push
// streams to a temp file in that folder while it is hashed (SHA-1), sized and (a tar) inspected as an
// archive, is flushed to disk, then renamed into place in the transaction that inserts its row:
// memory stays flat for any size, a package answered 201 survives a crash of the machine, and a
// broken upload leaves no row (and at worst a temp file the sweep removes). Each
// upload gets a file name of its own, so a replacement never overwrites the file a reader has open;
// the file it replaced goes once the new row is committed.
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { withTransaction, type Pool, type Queryable } from '../db/pool.js';
import { DurableFileSink, syncFolder } from '../storage/durableFile.js';
import { ConflictError, EnvironmentError, InputError, NotFoundError, TooLargeError } from '../errors.js';
import { numberSetting } from '../tasks/queries.js';
import { archiveKindOf, DEFAULT_LIMITS, inspectArchive, TarInspection, type ArchiveLimits } from './archive.js';
import { packageVersionId, parsePackageFileName, versionSortKey } from './names.js';
import {
  deletePackageRow, lockPackageVersion, selectBuildInformation, selectPackage, selectPackagePaths, selectPackageVersion, upsertPackage, type PackageRow,
} from './queries.js';

export const OVERWRITE_MODES = ['FailIfExists', 'OverwriteExisting', 'IgnoreIfExists'] as const;
export type OverwriteMode = (typeof OVERWRITE_MODES)[number];

/** Where pushes are written before they are renamed into place (in the shared folder: same file system). */
export const TEMP_FOLDER = '.incoming';
const TEMP_SUFFIX = '.part';

export const DUPLICATE_PACKAGE = 'A package with the same name and version already exists';

/** The settings that bound the feed (cluster settings; read at each push). */
export async function feedLimits(db: Queryable): Promise<{ maxBytes: number; archive: ArchiveLimits }> {
  const mb = await numberSetting(db, 'packages.max_upload_mb', 10 * 1024);
  return {
    maxBytes: mb * 1024 * 1024,
    archive: {
      maxEntries: await numberSetting(db, 'packages.max_entries', DEFAULT_LIMITS.maxEntries),
      maxExpandedBytes: (await numberSetting(db, 'packages.max_expanded_mb', DEFAULT_LIMITS.maxExpandedBytes / 1024 / 1024)) * 1024 * 1024,
      maxRatio: await numberSetting(db, 'packages.max_ratio', DEFAULT_LIMITS.maxRatio),
    },
  };
}

/**
 * Writes the audit event of a change to the feed, in the change's transaction (the caller's: the
 * feed sits below the deployment part that keeps events).
 */
export type FeedAudit = (db: Queryable, e: { spaceId: string; category: 'Created' | 'Modified' | 'Deleted'; message: string; relatedDocumentIds: string[]; details?: string }) => Promise<void>;

export interface PushInput {
  readonly pool: Pool;
  readonly packagesDir: string;
  readonly spaceId: string;
  readonly fileName: string;
  readonly data: Readable;
  readonly mode: OverwriteMode;
  readonly audit: FeedAudit;
}

export interface Pushed { readonly row: PackageRow; readonly outcome: 'created' | 'replaced' | 'ignored' }

/** What the file system refuses that no request can fix: the share is read-only, full, or not ours. */
const STORAGE_CODES: Record<string, string> = {
  EROFS: 'is read-only', EACCES: 'cannot be written by this node', EPERM: 'cannot be written by this node',
  ENOSPC: 'is full', EDQUOT: 'is over its quota', EIO: 'reports an input/output error', ESTALE: 'is a stale network mount',
};

/** A push that failed on the shared folder itself, as a 503 naming the folder and the check to run; else undefined. */
function storageProblem(err: unknown, dir: string): EnvironmentError | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return undefined;
  const what = STORAGE_CODES[code];
  if (!what) return undefined;
  return new EnvironmentError(`The package was not stored: the shared Packages folder ${dir} ${what} (${code}). Nothing was kept; fix the share (\`cuttle doctor\` on this node checks it) and push again.`);
}

/** Thrown by the upload stream when the body is over the limit (the route maps its own error to this). */
export function tooLarge(maxBytes: number): TooLargeError {
  return new TooLargeError(`The package is larger than ${Math.round(maxBytes / 1024 / 1024)} MB, the feed's limit (the packages.max_upload_mb setting).`);
}

export async function pushPackage(p: PushInput, maxBytes: number, limits: ArchiveLimits): Promise<Pushed> {
  const name = parsePackageFileName(p.fileName);
  const kind = archiveKindOf(name.extension)!;
  const incoming = join(p.packagesDir, TEMP_FOLDER);
  await mkdir(incoming, { recursive: true, mode: 0o700 }).catch((err: unknown) => { throw storageProblem(err, p.packagesDir) ?? err; });
  const temp = join(incoming, `${randomUUID()}${TEMP_SUFFIX}`);
  const hash = createHash('sha1');
  let size = 0;
  // A tar or tar.gz is parsed and checked as it arrives (no second read of the file); a zip's
  // directory is at its end, so it is inspected once the file is whole.
  const inspection = kind === 'zip' ? undefined : new TarInspection(limits);
  const measure = new Transform({
    highWaterMark: 1024 * 1024,
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      if (size > maxBytes) { done(tooLarge(maxBytes)); return; }
      hash.update(chunk);
      if (!inspection) { done(null, chunk); return; }
      inspection.write(chunk).then(() => done(null, chunk), done);
    },
  });
  let keepTemp = false;
  try {
    // On disk (fsync) before it is renamed into place and its row committed.
    await pipeline(p.data, measure, new DurableFileSink(temp, 0o640));
    if (size === 0) throw new InputError(`The package ${p.fileName} is empty; push the archive file itself.`);
    if (inspection) await inspection.end(); else await inspectArchive(temp, kind, limits);
    const sha1 = hash.digest('hex');
    const id = packageVersionId(name.packageId, name.version);
    const folder = join(p.spaceId, name.packageId.toLowerCase());
    const relPath = join(folder, `${name.packageId}.${name.version}-${randomUUID().slice(0, 8)}${name.extension}`);
    let replaced: string | undefined;
    const result = await withTransaction(p.pool, async (c): Promise<Pushed> => {
      // Two nodes receiving the same package at once: one waits for the other, then sees its row.
      await lockPackageVersion(c, p.spaceId, name.packageId, name.version);
      const existing = await selectPackageVersion(c, p.spaceId, name.packageId, name.version);
      if (existing && p.mode === 'FailIfExists') throw new ConflictError(`${DUPLICATE_PACKAGE}: ${existing.package_id} ${existing.version} is in the feed of ${p.spaceId}; push with overwriteMode=OverwriteExisting to replace it, or IgnoreIfExists.`);
      if (existing && p.mode === 'IgnoreIfExists') return { row: existing, outcome: 'ignored' };
      const row = await upsertPackage(c, {
        spaceId: p.spaceId, id: existing?.id ?? id, packageId: existing?.package_id ?? name.packageId, version: existing?.version ?? name.version,
        versionSort: versionSortKey(name.version), extension: name.extension, size, hash: sha1, relPath,
      });
      await p.audit(c, {
        spaceId: p.spaceId, category: existing ? 'Modified' : 'Created',
        message: `${existing ? 'Replaced' : 'Pushed'} package ${row.package_id} ${row.version} in the built-in feed`,
        relatedDocumentIds: [row.id, 'feeds-builtin'],
        details: `${size} bytes, SHA-1 ${row.hash}`,
      });
      // Renamed last, just before the commit: a failed commit leaves a file no row names (the sweep's).
      await mkdir(join(p.packagesDir, folder), { recursive: true, mode: 0o750 });
      await rename(temp, join(p.packagesDir, relPath));
      keepTemp = true;
      await syncFolder(join(p.packagesDir, folder));
      replaced = existing?.rel_path;
      return { row, outcome: existing ? 'replaced' : 'created' };
    });
    if (replaced) await rm(join(p.packagesDir, replaced), { force: true }).catch(() => undefined);
    return result;
  } catch (err) {
    inspection?.abort();
    throw storageProblem(err, p.packagesDir) ?? err;
  } finally {
    if (!keepTemp) await rm(temp, { force: true }).catch(() => undefined);
  }
}

export async function getPackage(db: Queryable, spaceId: string, id: string): Promise<PackageRow> {
  const row = await selectPackage(db, spaceId, id);
  if (!row) throw new NotFoundError(`There is no package ${id} in the feed of space ${spaceId}; list them with GET /api/${spaceId}/packages.`);
  return row;
}

export async function deletePackage(pool: Pool, packagesDir: string, spaceId: string, id: string, audit: FeedAudit): Promise<void> {
  const removed = await withTransaction(pool, async (c) => {
    const row = await selectPackage(c, spaceId, id, true);
    if (!row) throw new NotFoundError(`There is no package ${id} in the feed of space ${spaceId}; list them with GET /api/${spaceId}/packages.`);
    await deletePackageRow(c, spaceId, id);
    await audit(c, { spaceId, category: 'Deleted', message: `Deleted package ${row.package_id} ${row.version} from the built-in feed`, relatedDocumentIds: [row.id, 'feeds-builtin'] });
    return row;
  });
  // After the commit: a reader that had it open keeps reading; a failed delete of the file leaves it to the sweep.
  await rm(join(packagesDir, removed.rel_path), { force: true }).catch(() => undefined);
}

/** The Octopus Package resource. */
export async function presentPackage(db: Queryable, row: PackageRow): Promise<object> {
  const info = await selectBuildInformation(db, row.space_id, row.package_id, row.version);
  const self = `/api/${row.space_id}/packages/${row.id}`;
  return {
    Id: row.id,
    SpaceId: row.space_id,
    PackageId: row.package_id,
    Version: row.version,
    FeedId: 'feeds-builtin',
    FileExtension: row.file_extension,
    PackageSizeBytes: Number(row.size),
    Hash: row.hash,
    Published: row.published.toISOString(),
    Title: row.package_id,
    Summary: '',
    Description: '',
    ReleaseNotes: '',
    PackageVersionBuildInformation: info ? { Id: info.id, PackageId: info.package_id, Version: info.version, ...info.doc, Created: info.created.toISOString() } : null,
    Links: { Self: self, Raw: `${self}/raw`, Feed: `/api/${row.space_id}/feeds/feeds-builtin` },
  };
}

/**
 * Removes temp files older than `maxAgeMs` (an upload still being written keeps touching its file)
 * and package files no row names that are as old (a node that died between rename and commit).
 */
export async function sweepPackages(db: Queryable, packagesDir: string, maxAgeMs: number): Promise<{ temps: number; strays: number }> {
  const now = Date.now();
  const old = async (path: string) => { try { return now - (await stat(path)).mtimeMs > maxAgeMs; } catch { return false; } };
  let temps = 0;
  let strays = 0;
  const incoming = join(packagesDir, TEMP_FOLDER);
  for (const f of await readdir(incoming).catch(() => [] as string[])) {
    if (await old(join(incoming, f))) { await rm(join(incoming, f), { force: true }); temps++; }
  }
  const named = await selectPackagePaths(db);
  for (const space of await readdir(packagesDir, { withFileTypes: true }).catch(() => [])) {
    if (!space.isDirectory() || space.name === TEMP_FOLDER || !/^Spaces-\d+$/.test(space.name)) continue;
    for (const pkg of await readdir(join(packagesDir, space.name), { withFileTypes: true })) {
      if (!pkg.isDirectory()) continue;
      for (const f of await readdir(join(packagesDir, space.name, pkg.name))) {
        const rel = join(space.name, pkg.name, f);
        if (!named.has(rel) && await old(join(packagesDir, rel))) { await rm(join(packagesDir, rel), { force: true }); strays++; }
      }
    }
  }
  return { temps, strays };
}

export function parseOverwriteMode(mode: string | undefined, replace: string | undefined): OverwriteMode {
  if (mode !== undefined) {
    const m = OVERWRITE_MODES.find((x) => x.toLowerCase() === mode.toLowerCase());
    if (!m) throw new InputError(`overwriteMode "${mode}" is not one of ${OVERWRITE_MODES.join(', ')}.`);
    return m;
  }
  if (replace !== undefined) {
    if (!/^(true|false)$/i.test(replace)) throw new InputError(`replace "${replace}" must be true or false.`);
    return replace.toLowerCase() === 'true' ? 'OverwriteExisting' : 'FailIfExists';
  }
  return 'FailIfExists';
}
