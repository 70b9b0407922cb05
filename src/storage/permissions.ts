import { chmod, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { EnvironmentError, errorMessage } from '../errors.js';
import { SHARED_FOLDERS, type ResolvedPaths } from './sharedPaths.js';

/** An OS account scripts run as, by id. */
export interface WorkerIdentity { readonly name: string; readonly uid: number; readonly gid: number }

/** What the worker may do to a folder by its mode bits (its supplementary groups are dropped). */
function access(mode: number, uid: number, gid: number, w: WorkerIdentity): { read: boolean; write: boolean } {
  const bits = uid === w.uid ? (mode >> 6) & 7 : gid === w.gid ? (mode >> 3) & 7 : mode & 7;
  // Entering (x) is enough to read files whose names are known; listing (r) shows the names.
  return { read: (bits & 5) !== 0, write: (bits & 3) === 3 };
}

const octal = (m: number) => `0${(m & 0o7777).toString(8)}`;

/**
 * Shared folders are written by node processes only: a script that could write TaskLogs would
 * rewrite another task's log, one that could read it would see every task's output. For each
 * shared folder, with `fix` this node takes the worker's access away where it owns the folder
 * (no bits for others, none for the group when that is the worker's primary group); the sentences
 * it returns name what it could not fix (`write`: the worker can change the folder) or, without
 * `fix`, what it would. A folder the worker could enter by a writable parent counts as writable.
 */
export async function sharedFolderExposure(paths: ResolvedPaths, worker: WorkerIdentity, fix: boolean): Promise<{ write: string[]; read: string[]; fixed: string[] }> {
  const me = process.getuid?.() ?? -1;
  const out = { write: [] as string[], read: [] as string[], fixed: [] as string[] };
  const seenParents = new Set<string>();
  for (const f of SHARED_FOLDERS) {
    const path = paths[f];
    let s;
    try { s = await stat(path); } catch (err) { out.write.push(`the ${f} folder ${path} cannot be checked (${errorMessage(err)})`); continue; }
    let mode = s.mode;
    if (fix && s.uid === me && s.uid !== worker.uid) {
      const wanted = mode & ~0o007 & (s.gid === worker.gid ? ~0o070 : ~0);
      if ((wanted & 0o777) !== (mode & 0o777)) {
        await chmod(path, wanted & 0o7777);
        out.fixed.push(`${path} ${octal(mode)} → ${octal(wanted)}`);
        mode = wanted;
      }
    }
    const a = access(mode, s.uid, s.gid, worker);
    if (a.write) out.write.push(`${worker.name} can write the ${f} folder ${path} (mode ${octal(mode)}, owner uid ${s.uid}); make it the node user's with mode 0700 (chown, chmod 0700)`);
    else if (a.read) out.read.push(`${worker.name} can read the ${f} folder ${path} (mode ${octal(mode)}); make it the node user's with mode 0700`);
    // Write access to the parent lets the worker rename the folder away and put its own in place.
    const parent = dirname(path);
    if (seenParents.has(parent)) continue;
    seenParents.add(parent);
    try {
      const p = await stat(parent);
      const pa = access(p.mode, p.uid, p.gid, worker);
      if (pa.write && (p.mode & 0o1000) === 0) {
        if (fix && p.uid === me && p.uid !== worker.uid) {
          const wanted = p.mode & ~0o002 & (p.gid === worker.gid ? ~0o020 : ~0);
          await chmod(parent, wanted & 0o7777);
          out.fixed.push(`${parent} ${octal(p.mode)} → ${octal(wanted)}`);
        } else {
          out.write.push(`${worker.name} can write ${parent}, which holds the ${f} folder, and so replace it (mode ${octal(p.mode)}); take the worker's write access away (chmod o-w,g-w)`);
        }
      }
    } catch { /* the folder itself was checked */ }
  }
  return out;
}

/** At node start: fixes what it can and refuses to run scripts as a worker that could write a shared folder. */
export async function secureSharedFolders(paths: ResolvedPaths, worker: WorkerIdentity): Promise<{ fixed: string[]; read: string[] }> {
  const r = await sharedFolderExposure(paths, worker, true);
  if (r.write.length) {
    throw new EnvironmentError(`Scripts run as ${worker.name} could change shared storage: ${r.write.join('; ')}.`);
  }
  return r;
}
