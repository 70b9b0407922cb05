import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, open, realpath, rename, rm, stat } from 'node:fs/promises';
import { basename, join, resolve, sep } from 'node:path';
import type { OwnedTask } from './owned.js';
import { insertArtifact, type ArtifactRow } from './queries.js';

/** A file name that is safe on every share: no folders, no control characters, bounded length. */
export function safeFileName(name: string): string {
  const base = basename(name.replace(/\\/g, '/')).replace(/[^A-Za-z0-9._ -]/g, '_').replace(/^\.+/, '_').slice(0, 200);
  return base || 'artifact';
}

/**
 * Copies a file a script produced into the shared Artifacts folder (temp file in the same folder,
 * fsync, rename: readers never see half a file) and records it through the owner's fenced handle.
 * Only files inside the script's own work folder may be collected: a script must not be able to
 * copy the node's files (its home, another task's folder) out as an artifact.
 */
export async function collectArtifact(owned: OwnedTask, artifactsDir: string, spaceId: string, workDir: string, source: string, name: string): Promise<ArtifactRow> {
  const taskId = owned.taskId;
  const real = await realpath(resolve(workDir, source)).catch(() => undefined);
  const root = await realpath(workDir);
  if (!real || !real.startsWith(root + sep)) throw new Error(`${source} is not a file in the script's work folder; only files the script wrote there can be collected`);
  const s = await stat(real);
  if (!s.isFile()) throw new Error(`${source} is not a file`);
  const filename = safeFileName(name);
  const folder = join(artifactsDir, taskId);
  // Not recursive: a missing Artifacts folder (an unmounted share) must fail, not be recreated locally.
  await mkdir(folder).catch((e: NodeJS.ErrnoException) => { if (e.code !== 'EEXIST') throw e; });
  const unique = `${randomBytes(6).toString('hex')}-${filename}`;
  const tmp = join(folder, `.${unique}.tmp`);
  const final = join(folder, unique);
  try {
    await copyFile(real, tmp);
    const fh = await open(tmp, 'r+');
    await fh.sync();
    await fh.close();
    await rename(tmp, final);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  try {
    return await owned.transaction((c) => insertArtifact(c, { spaceId, taskId, filename, relPath: join(taskId, unique), length: s.size }));
  } catch (err) {
    // Fenced out (or the database failed): no row, so no file either.
    await rm(final, { force: true });
    throw err;
  }
}
