import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { chmod, lstat, mkdir, readdir, rm, rmdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { EnvironmentError, errorMessage } from '../errors.js';
import { isWithin } from '../storage/sharedPaths.js';

/**
 * The built-in worker's work folder: one folder per script run below a root that belongs to this
 * node alone, outside its home and outside shared storage. The root is the node user's, mode 0711:
 * a script may enter its own folder but cannot list the root, and every folder name ends in 64
 * random bits, so a script (even one running as the same worker user) cannot find another's.
 * Each script's folder is the script user's, mode 0700.
 */

/** The default root: per node home, so two nodes on one machine never share one. */
export function defaultWorkFolder(home: string, nodeName: string, uid = process.getuid?.() ?? -1): string {
  const tag = `${nodeName}-${createHash('sha256').update(resolve(home)).digest('hex').slice(0, 8)}`;
  // Only root may write /var/lib; anyone else gets a folder of their own in the OS temp dir.
  return uid === 0 ? join('/var/lib/cuttle/work', tag) : join(tmpdir(), `cuttle-work-${uid}-${tag}`);
}

/** The folder (or its nearest existing parent, resolved) as the kernel sees it: links followed. */
function real(path: string): string {
  let p = resolve(path);
  const rest: string[] = [];
  for (;;) {
    try { return join(realpathSync(p), ...rest.reverse()); } catch { /* not there yet */ }
    const parent = dirname(p);
    if (parent === p) return resolve(path);
    rest.push(p.slice(parent.length + (parent.endsWith('/') ? 0 : 1)));
    p = parent;
  }
}

export interface WorkFolderPlaces {
  readonly home: string;
  /** Every shared folder and the cluster-shared root, as configured. */
  readonly shared: readonly string[];
}

/** A sentence saying why `root` cannot be the work folder, or undefined when it can. */
export function workFolderProblem(root: string, places: WorkFolderPlaces): string | undefined {
  if (!isAbsolute(root)) return `The work folder "${root}" is a relative path; give an absolute path such as /var/lib/cuttle/work.`;
  const r = real(root);
  const home = real(places.home);
  if (isWithin(r, home) || isWithin(root, places.home)) {
    return `The work folder ${root} lies inside the node's home ${places.home}, where scripts must not reach; choose a folder outside it with \`cuttle builtin-worker --work-folder DIR\`.`;
  }
  if (isWithin(home, r)) {
    return `The work folder ${root} contains the node's home ${places.home}; choose a folder of its own with \`cuttle builtin-worker --work-folder DIR\`.`;
  }
  for (const s of places.shared) {
    if (isWithin(r, real(s)) || isWithin(root, s)) {
      return `The work folder ${root} lies inside shared storage (${s}), which only nodes may write; choose a node-local folder with \`cuttle builtin-worker --work-folder DIR\`.`;
    }
    if (isWithin(real(s), r)) {
      return `The work folder ${root} contains shared storage (${s}); choose a folder of its own with \`cuttle builtin-worker --work-folder DIR\`.`;
    }
  }
  return undefined;
}

// As the script's user: make its own folders writable again (chmod -R ignores links it meets), then remove.
const REMOVE = 'chmod -R u+rwX -- "$1" 2>/dev/null; exec rm -rf --one-file-system -- "$1"';

/** Removes a folder as `user`, so removing a script's files can never follow a link it planted. */
function removeAs(path: string, user: { uid: number; gid: number }): Promise<void> {
  return new Promise((done) => {
    const c = spawn('sh', ['-c', REMOVE, 'cuttle-remove', path], { uid: user.uid, gid: user.gid, stdio: 'ignore', env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } });
    c.once('error', () => done());
    c.once('exit', () => done());
  });
}

/**
 * Removes a script's folder. Its files are removed by the script's own user (a script that swaps
 * a folder for a link to the node's files cannot make the node delete them); the folder itself,
 * in the node's root, by the node.
 */
export async function removeWorkFolder(cwd: string, user?: { uid: number; gid: number }): Promise<void> {
  if (user && user.uid !== process.getuid?.()) {
    await removeAs(cwd, user);
    await rmdir(cwd).catch(() => undefined);
    return;
  }
  await rm(cwd, { recursive: true, force: true }).catch(() => undefined);
}

const FOLDER_SUFFIX = /-[0-9a-f]{16}$/;

/** A script folder's name: the task, its attempt, the handler's folder name and 64 random bits. */
export function scriptFolderName(taskId: string, attempt: number, folder: string): string {
  const safe = folder.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 64);
  return `${taskId}-${attempt}-${safe}-${randomBytes(8).toString('hex')}`;
}

/**
 * Creates (or checks) the root: a real folder, not a link, owned by this process, mode 0711; then
 * removes the script folders a previous life of this node left behind (killed, it removed none).
 */
export async function prepareWorkFolder(root: string, places: WorkFolderPlaces): Promise<void> {
  const problem = workFolderProblem(root, places);
  if (problem) throw new EnvironmentError(problem);
  // A folder on the way that someone else may change (not root's or the node's, or writable by
  // others without the sticky bit) lets them swap the root for a link to anywhere, where the node
  // would then make and hand over script folders.
  const me = process.getuid?.();
  for (let dir = dirname(root); ; dir = dirname(dir)) {
    const st = await stat(dir).catch((e: NodeJS.ErrnoException) => { if (e.code === 'ENOENT') return undefined; throw e; });
    if (!st) { if (dirname(dir) === dir) break; continue; } // made below, by the node
    const othersWrite = (st.mode & 0o022) !== 0 && (st.mode & 0o1000) === 0;
    if ((st.uid !== 0 && st.uid !== me) || othersWrite) {
      throw new EnvironmentError(`The work folder ${root} lies in ${dir}, which another user can change (owner uid ${st.uid}, mode 0${(st.mode & 0o7777).toString(8)}); make it root's or the node user's and not writable by others, or choose another with \`cuttle builtin-worker --work-folder DIR\`.`);
    }
    if (dirname(dir) === dir) break;
  }
  try {
    await mkdir(dirname(root), { recursive: true, mode: 0o755 });
    await mkdir(root, { mode: 0o711 }).catch((e: NodeJS.ErrnoException) => { if (e.code !== 'EEXIST') throw e; });
  } catch (err) {
    throw new EnvironmentError(`Cannot create the work folder ${root} (${errorMessage(err)}); create it for the node's user or choose another with \`cuttle builtin-worker --work-folder DIR\`.`);
  }
  const s = await lstat(root);
  if (!s.isDirectory()) throw new EnvironmentError(`The work folder ${root} is not a folder (a link or a file is there); remove it or choose another with \`cuttle builtin-worker --work-folder DIR\`.`);
  if (s.uid !== process.getuid?.()) {
    throw new EnvironmentError(`The work folder ${root} belongs to uid ${s.uid}, not to the node's user; remove it (another user may have planted it) or choose another with \`cuttle builtin-worker --work-folder DIR\`.`);
  }
  await chmod(root, 0o711);
  for (const name of await readdir(root)) {
    if (!FOLDER_SUFFIX.test(name)) continue;
    const path = join(root, name);
    const st = await lstat(path).catch(() => undefined);
    if (!st) continue;
    await removeWorkFolder(path, st.isDirectory() ? { uid: st.uid, gid: st.gid } : undefined);
  }
}

/** At a clean stop: the root goes too when nothing is left in it. */
export async function releaseWorkFolder(root: string): Promise<void> {
  await rmdir(root).catch(() => undefined);
}
