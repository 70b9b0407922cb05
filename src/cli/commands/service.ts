import { execFile } from 'node:child_process';
import { chown, lstat, mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { parseListen, readConfig, type NodeConfig } from '../../config/home.js';
import { runtimeOptions } from '../../config/options.js';
import { serviceName, serviceUnit, stopTimeoutSeconds } from '../../config/service.js';
import { openPool } from '../../db/pool.js';
import { EnvironmentError, UsageError, errorMessage } from '../../errors.js';
import { getSharedPaths, isWithin, resolvePaths } from '../../storage/sharedPaths.js';
import { lookupUser, readWorkerSettings, type OsUser } from '../../tasks/builtinWorker.js';
import { defaultWorkFolder } from '../../tasks/workFolder.js';
import { homeOf, homeOption, stdio } from '../shared.js';

/** Where systemd looks for units an administrator installs. */
const UNIT_DIR = '/etc/systemd/system';
const BIN = fileURLToPath(new URL('../../../../bin/cuttle.js', import.meta.url));
const DEFAULT_ACCOUNT = 'cuttle';

interface Ran { readonly code: number; readonly stdout: string; readonly stderr: string }

/** The Debian package of each command run here, for the sentence when one is missing. */
const PACKAGE: Record<string, string> = { useradd: 'passwd', userdel: 'passwd', runuser: 'util-linux', id: 'coreutils', systemctl: 'systemd' };

/**
 * Every command `cuttle service` runs goes through here. `check` turns a failure into one sentence
 * naming the command and the first line it printed.
 */
function command(cmd: string, args: readonly string[], check = true): Promise<Ran> {
  return new Promise((resolvePromise, reject) => {
    execFile(cmd, args, { timeout: 60_000 }, (err, stdout, stderr) => {
      const e = err as (Error & { code?: string | number; signal?: string | null }) | null;
      if (e?.code === 'ENOENT') {
        reject(new EnvironmentError(`\`${cmd}\` is not installed on this machine; install it (Debian: apt-get install ${PACKAGE[cmd] ?? cmd}) and run the command again.`));
        return;
      }
      const code = e ? (typeof e.code === 'number' ? e.code : 1) : 0;
      if (check && code !== 0) {
        const said = (stderr || stdout).trim().split('\n')[0] || (e?.signal ? `killed by ${e.signal}` : `exit code ${code}`);
        reject(new EnvironmentError(`\`${[cmd, ...args].join(' ')}\` failed (${said}); fix that and run the command again.`));
        return;
      }
      resolvePromise({ code, stdout, stderr });
    });
  });
}

const isRoot = (): boolean => process.getuid?.() === 0;
/** sd_booted(): systemd is the init system of this machine (not the case in most containers). */
export const systemdRunning = (): boolean => existsSync('/run/systemd/system');

function requireRoot(action: string): void {
  if (!isRoot()) throw new EnvironmentError(`\`cuttle service --${action}\` must run as root (it manages a systemd unit${action === 'install' ? ' and hands the home to the service account' : ''}); run it again with sudo.`);
}

/** What the unit needs, read from the home and the cluster's database. */
export interface ServicePlan {
  readonly home: string;
  readonly config: NodeConfig;
  readonly account: string;
  readonly unitName: string;
  readonly unit: string;
  /** Folders the account must be able to use: the shared ones (the home is handed to it). */
  readonly shared: readonly string[];
  /** The built-in worker's work folder, when not in the service's own /tmp: made by --install. */
  readonly workFolder?: string;
}

const inTmp = (p: string): boolean => /^\/(var\/)?tmp\//.test(p);

/**
 * The unit for this home and account, from the home's config and the cluster's shared storage
 * (read from the database). Refuses a home no service can run: made by `cuttle start`, without
 * shared storage, or running scripts as another OS user under an account that is not root.
 */
export async function planService(homeDir: string, account: string, group = account): Promise<ServicePlan> {
  const home = resolve(homeDir);
  const config = readConfig(home);
  if (config.embeddedPostgres) {
    throw new EnvironmentError(`${home} was made by \`cuttle start\` (an embedded PostgreSQL, for trying Cuttle out), which a service cannot run; set up a real cluster with \`cuttle setup --database URL …\` and install that node as a service.`);
  }
  const worker = readWorkerSettings(home);
  if (worker.username && account !== 'root') {
    // The node switches to that user itself (setpriv) and contains its scripts in a PID and mount
    // namespace; both take root (src/tasks/builtinWorker.ts refuses a node that is not).
    throw new EnvironmentError(`This node runs scripts as the OS user ${worker.username} (\`cuttle builtin-worker\`), which only a node running as root can do; install with --user root, or run \`cuttle builtin-worker --reset --home ${home}\` first.`);
  }
  const pool = await openPool(config.databaseUrl, { max: 1, applicationName: 'cuttle service' });
  let shared: string[];
  let clusterShared: string | undefined;
  try {
    const settings = await getSharedPaths(pool);
    const paths = resolvePaths(settings);
    if (!paths) throw new EnvironmentError('The cluster has no shared storage yet; run `cuttle path --cluster-shared DIR` first, then install the service.');
    shared = [...new Set(Object.values(paths))];
    clusterShared = settings.clusterShared;
  } finally {
    await pool.end();
  }
  // A node that is not root keeps its scripts' work folder under /tmp by default, which PrivateTmp
  // makes its own; a root node's default, or a folder set with --work-folder, --install makes (the
  // account's, mode 0711) so that it can be named writable here.
  const workFolder = worker.workFolder ?? (account === 'root' ? defaultWorkFolder(home, config.nodeName, 0) : undefined);
  const workFolderOut = workFolder && !inTmp(workFolder) ? workFolder : undefined;
  let listenPort: number | undefined;
  try { listenPort = parseListen(config.listen).port; } catch { listenPort = undefined; }
  const storage = [...(clusterShared ? [clusterShared] : []), ...shared];
  const unit = serviceUnit({
    nodeName: config.nodeName, home, user: account, group, execPath: process.execPath, binPath: BIN,
    writable: [home, ...storage, ...(workFolderOut ? [workFolderOut] : [])],
    mounts: [home, ...storage],
    shutdownGraceMs: runtimeOptions().shutdownGraceMs,
    ...(listenPort !== undefined ? { listenPort } : {}),
  });
  return { home, config, account, unitName: serviceName(config.nodeName), unit, shared, ...(workFolderOut ? { workFolder: workFolderOut } : {}) };
}

/** Whether `user` can read, write and enter `dir`, asked as that user (its groups included, as systemd gives them). */
async function accountCanUse(user: string, dir: string): Promise<boolean> {
  const r = await command('runuser', ['-u', user, '--', 'test', '-r', dir, '-a', '-w', dir, '-a', '-x', dir], false);
  return r.code === 0;
}

async function accountCanRead(user: string, file: string, execute: boolean): Promise<boolean> {
  const r = await command('runuser', ['-u', user, '--', 'test', execute ? '-x' : '-r', file], false);
  return r.code === 0;
}

async function chownTree(path: string, uid: number, gid: number): Promise<void> {
  const s = await lstat(path);
  await chown(path, uid, gid);
  if (s.isDirectory()) for (const name of await readdir(path)) await chownTree(join(path, name), uid, gid);
}

/** Refuses, with the fix, an account that could not run this node: it must reach Node.js, Cuttle, every shared folder and the home. */
async function checkAccess(account: OsUser, plan: ServicePlan): Promise<void> {
  for (const [file, execute] of [[process.execPath, true], [BIN, false]] as const) {
    if (!(await accountCanRead(account.name, file, execute))) {
      throw new EnvironmentError(`The account ${account.name} cannot ${execute ? 'run' : 'read'} ${file}; install Node.js and Cuttle where it can (such as /usr/local or /opt/cuttle), then run the command again.`);
    }
  }
  for (const dir of plan.shared) {
    // A folder inside the home (the default of a one-node cluster, home/Shared) is handed over with it.
    if (isWithin(dir, plan.home)) continue;
    if (!existsSync(dir)) {
      throw new EnvironmentError(`The shared folder ${dir} does not exist on this server; mount the share (or create the folder) so that ${account.name} can read and write it, then run the command again. Nothing was installed.`);
    }
    if (!(await accountCanUse(account.name, dir))) {
      throw new EnvironmentError(`The account ${account.name} cannot read and write the shared folder ${dir}; give it access (for example \`chown -R ${account.name} ${dir}\` on the share, or an ACL for its group) and run the command again. Nothing was installed.`);
    }
  }
  if (!(await accountCanRead(account.name, dirname(plan.home), true))) {
    throw new EnvironmentError(`The account ${account.name} cannot reach the home ${plan.home} (its parent folder is closed to it); move the home (such as to /var/lib/cuttle) or open its parent folder, then run the command again.`);
  }
}

/**
 * The service account's checks, done before anything changes: an account that does not exist is
 * refused unless it may be created (then undefined is returned: --install creates it and checks
 * again); one that exists must reach everything the node uses.
 */
export async function checkServiceAccount(plan: ServicePlan, createUser: boolean): Promise<OsUser | undefined> {
  const account = await lookupUser(plan.account);
  if (!account) {
    if (!createUser) throw new EnvironmentError(`There is no OS user "${plan.account}" on this machine; create it, or add --create-user to let \`cuttle service --install\` create it as a system account.`);
    return undefined;
  }
  await checkAccess(account, plan);
  return account;
}

const groupOf = async (account: OsUser): Promise<string> => (await command('id', ['-gn', account.name])).stdout.trim() || account.name;

/** systemd as `cuttle service` sees it; the tests of --install give a stand-in (this machine has no systemd). */
export interface ServiceSystem {
  /** Where units an administrator installs go. */
  readonly unitDir: string;
  readonly systemdRunning: () => boolean;
  readonly systemctl: (args: readonly string[]) => Promise<unknown>;
}

const SYSTEM: ServiceSystem = { unitDir: UNIT_DIR, systemdRunning, systemctl: (args) => command('systemctl', args) };

export interface InstallOptions {
  readonly home: string;
  readonly user: string;
  readonly createUser: boolean;
  readonly start: boolean;
  /** Without systemd, print the unit it would have installed (the command does; the wizard does not). */
  readonly printUnit?: boolean;
}

/**
 * Installs (and enables, and with `start` starts) this node's service; returns what it did, line
 * by line. Refuses, in this order and before changing anything: not root; systemd not running
 * (printing the unit it would have written); the account (missing without --create-user, or
 * unable to reach Node.js, Cuttle, the shared folders or the home).
 */
export async function installService(o: InstallOptions, system: ServiceSystem = SYSTEM): Promise<string[]> {
  requireRoot('install');
  const existing = await lookupUser(o.user);
  let plan = await planService(o.home, o.user, existing ? await groupOf(existing) : o.user);
  if (!system.systemdRunning()) {
    const why = 'systemd is not running on this machine (a container?), so no service was installed';
    if (o.printUnit === false) throw new EnvironmentError(`${why}; run the node under the container's own supervisor instead: \`cuttle run --home ${plan.home}\`.`);
    stdio.line(plan.unit.trimEnd());
    throw new EnvironmentError(`${why}; the unit above is what \`cuttle service --install\` would write to ${join(system.unitDir, plan.unitName)}; run the node under the container's own supervisor instead: \`cuttle run --home ${plan.home}\`.`);
  }
  let account = await checkServiceAccount(plan, o.createUser);
  const done: string[] = [];
  if (!account) {
    await command('useradd', ['--system', '--no-create-home', '--home-dir', plan.home, '--shell', '/usr/sbin/nologin', o.user]);
    account = await lookupUser(o.user);
    if (!account) throw new EnvironmentError(`useradd created "${o.user}" but the system does not find it; check /etc/passwd and run the command again.`);
    done.push(`Created the system account ${o.user} (uid ${account.uid}).`);
    plan = await planService(o.home, account.name, await groupOf(account));
    try {
      await checkAccess(account, plan);
    } catch (err) {
      // The account is new and of no use: take it away again, so the refusal leaves nothing behind.
      await command('userdel', [account.name], false);
      throw err;
    }
  }
  if (plan.workFolder) {
    // Its parents root's (as the node demands of them), the folder the account's.
    await mkdir(dirname(plan.workFolder), { recursive: true, mode: 0o755 });
    await mkdir(plan.workFolder, { mode: 0o711 }).catch((e: NodeJS.ErrnoException) => { if (e.code !== 'EEXIST') throw e; });
    await chown(plan.workFolder, account.uid, account.gid);
  }
  await chownTree(plan.home, account.uid, account.gid);
  done.push(`Handed the home ${plan.home} to ${account.name}.`);
  const path = join(system.unitDir, plan.unitName);
  const temp = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(temp, plan.unit, { mode: 0o644 });
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw new EnvironmentError(`Could not write ${path} (${errorMessage(err)}); check that ${system.unitDir} is writable and run the command again.`);
  }
  await system.systemctl(['daemon-reload']);
  await system.systemctl(['enable', plan.unitName]);
  done.push(`Installed and enabled ${plan.unitName} (${path}), running \`cuttle run --home ${plan.home}\` as ${account.name}; it stops with SIGTERM and waits ${stopTimeoutSeconds(runtimeOptions().shutdownGraceMs)} s.`);
  if (o.start) {
    await system.systemctl(['start', plan.unitName]);
    done.push(`Started ${plan.unitName}; follow it with \`journalctl -u ${plan.unitName} -f\`.`);
  } else {
    done.push(`Start it with \`cuttle service --start --home ${plan.home}\`.`);
  }
  return done;
}

function unitOf(home: string): string {
  return serviceName(readConfig(resolve(home)).nodeName);
}

function requireSystemd(): void {
  if (!systemdRunning()) throw new EnvironmentError('systemd is not running on this machine (a container?), so there is no service to manage; run the node with `cuttle run` under the container\'s own supervisor.');
}

interface ServiceOpts { home?: string; install?: boolean; start?: boolean; stop?: boolean; uninstall?: boolean; status?: boolean; user?: string; createUser?: boolean }

export function serviceCommand(program: Command): void {
  homeOption(program.command('service'))
    .description('run this node as a systemd service under its own account: --install [--user U] [--create-user] [--start], --start, --stop, --status, --uninstall')
    .option('--install', 'write, enable (and with --start, start) the unit for this node\'s home')
    .option('--user <account>', `the service account (with --install; default ${DEFAULT_ACCOUNT})`)
    .option('--create-user', 'create the service account as a system account when it does not exist (with --install)')
    .option('--start', 'start the service (alone, or after --install)')
    .option('--stop', 'stop the service (the node drains its tasks within its grace)')
    .option('--status', 'whether the service is installed, enabled and running')
    .option('--uninstall', 'stop, disable and remove the unit (the home stays)')
    .action(async (opts: ServiceOpts) => {
      const actions = (['install', 'stop', 'status', 'uninstall'] as const).filter((a) => opts[a]);
      if (opts.start && !opts.install) actions.push('start' as never);
      if (actions.length !== 1) {
        throw new UsageError(actions.length === 0
          ? 'Say what to do: `cuttle service --install [--user U] [--create-user] [--start]`, `--start`, `--stop`, `--status` or `--uninstall`.'
          : `--${actions.join(' and --')} cannot go together; give one of them (only --install takes --start).`);
      }
      if (!opts.install && (opts.user !== undefined || opts.createUser)) throw new UsageError('--user and --create-user go with --install only.');
      if (opts.user !== undefined && !/^[a-z_][a-z0-9_-]{0,31}$/.test(opts.user)) throw new UsageError(`"${opts.user}" is not a valid account name; use lower-case letters, digits, '_' or '-', starting with a letter.`);
      const home = homeOf(opts);
      const action = actions[0] as 'install' | 'start' | 'stop' | 'status' | 'uninstall';
      if (action === 'install') {
        for (const line of await installService({ home, user: opts.user ?? DEFAULT_ACCOUNT, createUser: opts.createUser === true, start: opts.start === true })) stdio.line(line);
        return;
      }
      if (action !== 'status') requireRoot(action);
      requireSystemd();
      const unit = unitOf(home);
      const installed = existsSync(join(UNIT_DIR, unit));
      const notInstalled = `${unit} is not installed on this server; install it with \`cuttle service --install --home ${resolve(home)}\``;
      if (action === 'status') {
        const show = await command('systemctl', ['show', unit, '--property=LoadState,UnitFileState,ActiveState,SubState,MainPID']);
        const p = Object.fromEntries(show.stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
        if (p.LoadState === 'not-found') throw new EnvironmentError(`${notInstalled}.`);
        // Reported, whatever the state: exit 0 (`systemctl is-active` is the scripting test).
        stdio.line(`${unit}: ${p.ActiveState} (${p.SubState})${p.MainPID && p.MainPID !== '0' ? `, main PID ${p.MainPID}` : ''}; ${p.UnitFileState === 'enabled' ? 'starts at boot' : `not started at boot (${p.UnitFileState})`}.`);
        return;
      }
      if (action === 'uninstall') {
        if (!installed) { stdio.line(`${unit} is not installed on this server: nothing to remove.`); return; }
        await command('systemctl', ['disable', '--now', unit]);
        await rm(join(UNIT_DIR, unit), { force: true });
        await command('systemctl', ['daemon-reload']);
        stdio.line(`Stopped, disabled and removed ${unit}; the home ${resolve(home)} and the account are left as they are.`);
        return;
      }
      if (!installed) throw new EnvironmentError(`${notInstalled} first.`);
      await command('systemctl', [action, unit]);
      stdio.line(action === 'start' ? `Started ${unit}; \`cuttle service --status\` shows it.` : `Stopped ${unit}: the node drained its tasks and stopped.`);
    });
}
