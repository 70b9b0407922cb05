import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, readlink, realpath, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { OwnedTask } from './owned.js';
import { insertArtifact, type ArtifactRow } from './queries.js';

/** A file name that is safe on every share: no folders, no control characters, bounded length. */
export function safeFileName(name: string): string {
  const base = basename(name.replace(/\\/g, '/')).replace(/[^A-Za-z0-9._ -]/g, '_').replace(/^\.+/, '_').slice(0, 200);
  return base || 'artifact';
}

/**
 * Opens root/parts[0]/…/parts[n] without following a link at any step: each folder is opened
 * with O_NOFOLLOW through the previous one's descriptor (/proc/self/fd/N/name resolves name in
 * the folder N is, as openat does), the file last.
 */
async function openBeneath(root: string, parts: string[]): Promise<FileHandle> {
  const opened: FileHandle[] = [];
  try {
    let dir = await open(root, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
    opened.push(dir);
    for (const part of parts.slice(0, -1)) {
      // A link (or no folder) on the way: the file is not in the work folder, whatever it names.
      dir = await open(`/proc/self/fd/${dir.fd}/${part}`, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW)
        .catch((err: unknown) => { throw Object.assign(new Error('not beneath the folder', { cause: err }), { code: 'OUTSIDE' }); });
      opened.push(dir);
    }
    return await open(`/proc/self/fd/${dir.fd}/${parts[parts.length - 1]!}`, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY);
  } finally {
    for (const d of opened) await d.close();
  }
}

/**
 * Opens the file a script named for reading, refusing anything but a file of its own inside its
 * work folder. The node may run as root and the script is untrusted, so the checks are made on
 * what was opened, not on the path: no link is followed at the last step (O_NOFOLLOW), and the
 * kernel's own name for the opened file (/proc/self/fd) must lie inside the work folder, so a
 * link anywhere on the way, or a folder swapped for one after a check, cannot lead outside. The
 * file must be regular (O_NONBLOCK: a FIFO cannot hang the node), owned by the script's user, and
 * have one name (a hard link to a file elsewhere is refused, whoever owns it).
 */
async function openScriptFile(workDir: string, source: string, scriptUid: number | undefined): Promise<{ fh: FileHandle; size: number }> {
  const outside = `${source} is not a file in the script's work folder; only files the script wrote there can be collected`;
  const root = await realpath(workDir);
  // Nothing outside the folder is ever opened, not even to be refused: opening a device (a
  // watchdog, a tape) can act by itself. A path that leaves the folder is refused as written,
  // and the rest is walked one name at a time beneath the folder's own descriptor, following no
  // link at any step (a folder swapped for a link in between fails with ELOOP or ENOTDIR).
  // A script names the file by its real path (realpath) or relative to its folder.
  const inside = (r: string) => r !== '' && !r.startsWith('..') && !isAbsolute(r);
  const rel = [relative(root, resolve(root, source)), relative(resolve(workDir), resolve(workDir, source))].find(inside);
  if (rel === undefined) throw new Error(outside);
  let fh: FileHandle;
  try {
    fh = await openBeneath(root, rel.split(sep));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(code === 'ELOOP' ? `${source} is a symbolic link; only files the script wrote in its work folder can be collected` : outside, { cause: err });
  }
  try {
    const opened = await readlink(`/proc/self/fd/${fh.fd}`);
    if (!opened.startsWith(root + sep)) throw new Error(outside);
    const s = await fh.stat();
    if (!s.isFile()) throw new Error(`${source} is not a regular file`);
    if (scriptUid !== undefined && s.uid !== scriptUid) throw new Error(`${source} does not belong to the script's user (uid ${s.uid}); only files the script wrote can be collected`);
    if (s.nlink !== 1) throw new Error(`${source} has ${s.nlink} hard links; only a file with a single name can be collected`);
    return { fh, size: s.size };
  } catch (err) {
    await fh.close();
    throw err;
  }
}

/**
 * Copies a file a script produced into the shared Artifacts folder (temp file in the same folder,
 * fsync, rename: readers never see half a file) and records it through the owner's fenced handle.
 * Only files of the script's own inside its work folder may be collected (see openScriptFile): a
 * script must not be able to copy the node's files (its home, another task's folder) out as an
 * artifact. `scriptUid` is the user the script ran as (the node's own when absent).
 */
export async function collectArtifact(owned: OwnedTask, artifactsDir: string, spaceId: string, workDir: string, source: string, name: string, scriptUid = process.getuid?.()): Promise<ArtifactRow> {
  const taskId = owned.taskId;
  const { fh } = await openScriptFile(workDir, source, scriptUid);
  const filename = safeFileName(name);
  const folder = join(artifactsDir, taskId);
  const unique = `${randomBytes(6).toString('hex')}-${filename}`;
  const tmp = join(folder, `.${unique}.tmp`);
  const final = join(folder, unique);
  let length = 0;
  try {
    // Not recursive: a missing Artifacts folder (an unmounted share) must fail, not be recreated locally.
    await mkdir(folder).catch((e: NodeJS.ErrnoException) => { if (e.code !== 'EEXIST') throw e; });
    const out = await open(tmp, 'wx', 0o600);
    try {
      // From the descriptor that passed the checks: the path could point elsewhere by now.
      const buf = Buffer.allocUnsafe(1 << 16);
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, buf.length, length);
        if (bytesRead === 0) break;
        await out.write(buf, 0, bytesRead);
        length += bytesRead;
      }
      await out.sync();
    } finally {
      await out.close();
    }
    await rename(tmp, final);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  } finally {
    await fh.close();
  }
  try {
    return await owned.transaction((c) => insertArtifact(c, { spaceId, taskId, filename, relPath: join(taskId, unique), length }));
  } catch (err) {
    // Fenced out (or the database failed): no row, so no file either.
    await rm(final, { force: true });
    throw err;
  }
}
