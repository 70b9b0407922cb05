import { execFile } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { NodeConfig } from '../config/home.js';
import { EnvironmentError, errorMessage } from '../errors.js';
import { isWithin, type ResolvedPaths } from '../storage/sharedPaths.js';
import { secureSharedFolders, sharedFolderExposure } from '../storage/permissions.js';
import { containmentWarning, detectContainment, type Containment } from './containment.js';
import type { ScriptUser } from './runner.js';
import { defaultWorkFolder, prepareWorkFolder, workFolderProblem } from './workFolder.js';

/**
 * The built-in worker (Octopus's `builtin-worker` verb): the OS user this node runs scripts as and
 * the folder they run in. Kept in a file of the home of its own — not the config file — so a node
 * configured from the environment (container style) keeps it too.
 */
export const WORKER_FILE = 'builtin-worker.json';

export interface WorkerSettings {
  /** The OS user scripts run as; the node's own user when absent. */
  readonly username?: string;
  /** The root of the script work folders; a per-node default when absent. */
  readonly workFolder?: string;
}

export function readWorkerSettings(home: string): WorkerSettings {
  const file = join(home, WORKER_FILE);
  if (!existsSync(file)) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new EnvironmentError(`The built-in worker file ${file} cannot be read (${errorMessage(err)}); fix it or remove it with \`cuttle builtin-worker --reset\`.`);
  }
  const s = parsed as Record<string, unknown>;
  if (typeof s !== 'object' || s === null || (s.username !== undefined && typeof s.username !== 'string') || (s.workFolder !== undefined && typeof s.workFolder !== 'string')) {
    throw new EnvironmentError(`The built-in worker file ${file} is not {"username": "...", "workFolder": "..."}; fix it or remove it with \`cuttle builtin-worker --reset\`.`);
  }
  return Object.freeze({
    ...(s.username ? { username: s.username } : {}),
    ...(s.workFolder ? { workFolder: s.workFolder } : {}),
  });
}

/** Written whole (temp file, rename), readable by the node's user only; no settings, no file. */
export function writeWorkerSettings(home: string, s: WorkerSettings): void {
  const file = join(home, WORKER_FILE);
  if (!s.username && !s.workFolder) { rmSync(file, { force: true }); return; }
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(s, null, 2) + '\n', { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

export interface OsUser { readonly name: string; readonly uid: number; readonly gid: number }

function run(cmd: string, args: string[]): Promise<{ code: number | string; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 10_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as NodeJS.ErrnoException).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** The OS user by name, as the system's name service (getent) knows it. */
export async function lookupUser(name: string): Promise<OsUser | undefined> {
  if (!/^[A-Za-z0-9_.][A-Za-z0-9_.-]*\$?$/.test(name)) return undefined;
  const r = await run('getent', ['passwd', name]);
  let line = r.code === 0 ? r.stdout.split('\n')[0] : undefined;
  if (r.code === 'ENOENT') {
    line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.split(':')[0] === name);
  }
  const f = line?.split(':');
  if (!f || f.length < 4 || f[0] !== name) return undefined;
  return { name, uid: Number(f[2]), gid: Number(f[3]) };
}

function nodeUserName(): string {
  try { return userInfo().username; } catch { return `uid ${process.getuid?.()}`; }
}

/**
 * Every reason `name` cannot be this node's worker, as one sentence naming the fix: it must exist,
 * be neither root nor the node's own user nor in the node's primary group, and this process
 * (root) must be able to switch to it — which is actually tried.
 */
export async function checkWorkerUser(name: string): Promise<OsUser> {
  const uid = process.getuid?.() ?? -1;
  if (uid !== 0) {
    throw new EnvironmentError(`Only a node that runs as root can run scripts as another user, and this one runs as ${nodeUserName()}; run the node (and this command) as root, or leave scripts on the node's own user.`);
  }
  const user = await lookupUser(name);
  if (!user) {
    throw new EnvironmentError(`There is no OS user "${name}" on this machine; create it (e.g. \`useradd --system --no-create-home --shell /usr/sbin/nologin ${name}\`) and run this again.`);
  }
  if (user.uid === 0 || user.uid === uid) {
    throw new EnvironmentError(`"${name}" is the node's own user (uid ${user.uid}), so scripts could read the node's secrets; give an unprivileged user of its own, or use --reset to go back to the node's user on purpose.`);
  }
  const gid = process.getgid?.() ?? -1;
  if (user.gid === gid || user.gid === 0) {
    throw new EnvironmentError(`The primary group of "${name}" is the node's group (gid ${user.gid}), which would let scripts read files the node's group may read; give it a group of its own (\`usermod -g GROUP ${name}\`).`);
  }
  const tried = await run('setpriv', [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', '--', 'true']);
  if (tried.code !== 0) {
    const why = tried.code === 'ENOENT' ? 'setpriv from util-linux is not installed' : tried.stderr.trim() || `exit ${tried.code}`;
    throw new EnvironmentError(`This node cannot switch to user "${name}" (${why}); install util-linux and run the node as root with the SETUID and SETGID capabilities.`);
  }
  return user;
}

/**
 * The home holds the master key and the database password: only the node's user may enter it
 * (0700; 0711 when the embedded PostgreSQL's data lies inside, so its server account can reach
 * that), and every file directly in it is 0600. Returns what it changed.
 */
export function secureHome(home: string, config: Pick<NodeConfig, 'embeddedPostgres'>): string[] {
  const me = process.getuid?.();
  const fixed: string[] = [];
  const set = (path: string, mode: number) => {
    const s = lstatSync(path);
    if (s.uid !== me || s.isSymbolicLink() || (s.mode & 0o7777) === mode) return;
    chmodSync(path, mode);
    fixed.push(`${path} 0${(s.mode & 0o777).toString(8)} → 0${mode.toString(8)}`);
  };
  const pg = config.embeddedPostgres?.dataDir;
  set(home, pg && isWithin(pg, home) ? 0o711 : 0o700);
  for (const name of readdirSync(home)) {
    const path = join(home, name);
    if (lstatSync(path).isFile()) set(path, 0o600);
  }
  return fixed;
}

/** What the engine needs to run scripts: where, as whom, and how they are contained. */
export interface BuiltinWorker {
  readonly workRoot: string;
  readonly user?: ScriptUser;
  readonly containment: Containment;
}

export interface WorkerPlaces {
  readonly home: string;
  readonly config: NodeConfig;
  readonly paths: ResolvedPaths;
  readonly clusterShared?: string;
}

function sharedRoots(p: WorkerPlaces): string[] {
  return [...Object.values(p.paths), ...(p.clusterShared ? [p.clusterShared] : [])];
}

/**
 * At node start: the home's modes, the worker user (refusing one it cannot use), shared folders
 * the worker cannot change, the work folder and the containment, each logged once.
 */
export async function prepareBuiltinWorker(p: WorkerPlaces, log: Logger): Promise<BuiltinWorker> {
  const fixedHome = secureHome(p.home, p.config);
  if (fixedHome.length) log.warn({ fixed: fixedHome }, 'the home was readable by others; its modes were fixed');
  const settings = readWorkerSettings(p.home);
  let user: OsUser | undefined;
  if (settings.username) {
    try {
      user = await checkWorkerUser(settings.username);
    } catch (err) {
      throw new EnvironmentError(`The built-in worker (${join(p.home, WORKER_FILE)}) cannot run scripts as "${settings.username}": ${errorMessage(err)} (\`cuttle builtin-worker --reset\` goes back to the node's own user.)`);
    }
    const shared = await secureSharedFolders(p.paths, user);
    if (shared.fixed.length) log.warn({ fixed: shared.fixed }, 'shared folders were open to the worker user; their modes were fixed');
    if (shared.read.length) log.warn({ problems: shared.read }, 'the worker user can read shared folders');
  } else {
    log.warn({}, `scripts run as the node's own user (${nodeUserName()}): they can read its home (master key, database password); run \`cuttle builtin-worker --username USER\` to run them as a user of their own`);
  }
  const workRoot = settings.workFolder ?? defaultWorkFolder(p.home, p.config.nodeName);
  await prepareWorkFolder(workRoot, { home: p.home, shared: sharedRoots(p) });
  const containment = await detectContainment();
  const warning = containmentWarning(containment);
  if (warning) log.warn({}, warning);
  else log.info({ containment: containment.kind, workFolder: workRoot, user: user?.name ?? nodeUserName() }, `scripts are contained in ${containment.description}`);
  return Object.freeze({ workRoot, containment, ...(user ? { user: Object.freeze({ uid: user.uid, gid: user.gid, name: user.name }) } : {}) });
}

export type WorkerFindingLevel = 'ok' | 'warn' | 'fail';
export interface WorkerFinding { readonly level: WorkerFindingLevel; readonly text: string }

/** Doctor's view of the built-in worker: who scripts run as, what they could reach, how they are contained. */
export async function builtinWorkerFindings(p: Omit<WorkerPlaces, 'paths'> & { readonly paths?: ResolvedPaths }): Promise<WorkerFinding[]> {
  const out: WorkerFinding[] = [];
  const settings = readWorkerSettings(p.home);
  if (!settings.username) {
    out.push({ level: 'warn', text: `scripts run as the node's own user (${nodeUserName()}), so a script can read the home (master key, database password) and write shared storage; run \`cuttle builtin-worker --username USER\` with an unprivileged user of its own, then restart the node` });
  } else {
    try {
      const user = await checkWorkerUser(settings.username);
      out.push({ level: 'ok', text: `scripts run as ${user.name} (uid ${user.uid}, gid ${user.gid}), not as the node's user` });
      if (p.paths) {
        const e = await sharedFolderExposure(p.paths, user, false);
        for (const t of e.write) out.push({ level: 'fail', text: t });
        for (const t of e.read) out.push({ level: 'warn', text: `${t} (the node fixes this at its next start where it owns the folder)` });
      }
      const home = statSync(p.home);
      if ((home.mode & 0o077 & ~0o011) !== 0) out.push({ level: 'warn', text: `the home ${p.home} is open to other users (mode 0${(home.mode & 0o777).toString(8)}); the node makes it 0700 at its next start` });
    } catch (err) {
      out.push({ level: 'fail', text: `the built-in worker cannot run scripts as "${settings.username}": ${errorMessage(err)}` });
    }
  }
  const workRoot = settings.workFolder ?? defaultWorkFolder(p.home, p.config.nodeName);
  const problem = workFolderProblem(workRoot, { home: p.home, shared: p.paths ? sharedRoots({ ...p, paths: p.paths }) : [] });
  out.push(problem ? { level: 'fail', text: problem } : { level: 'ok', text: `scripts run in ${workRoot}, outside the home and shared storage` });
  const containment = await detectContainment();
  const warning = containmentWarning(containment);
  out.push(warning ? { level: 'warn', text: warning } : { level: 'ok', text: `scripts are contained in ${containment.description}` });
  return out;
}
