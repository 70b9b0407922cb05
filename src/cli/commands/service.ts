import { execFile } from 'node:child_process';
import { chown, lstat, mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { readConfig, type NodeConfig } from '../../config/home.js';
import { runtimeOptions } from '../../config/options.js';
import { serviceName, serviceUnit, stopTimeoutSeconds } from '../../config/service.js';
import { openPool } from '../../db/pool.js';
import { EnvironmentError, UsageError, errorMessage } from '../../errors.js';
import { getSharedPaths, resolvePaths } from '../../storage/sharedPaths.js';
import { lookupUser, readWorkerSettings, type OsUser } from '../../tasks/builtinWorker.js';
import { defaultWorkFolder } from '../../tasks/workFolder.js';
import { homeOf, homeOption, stdio } from '../shared.js';

/** Where systemd looks for units an administrator installs. */
const UNIT_DIR = '/etc/systemd/system';
const BIN = fileURLToPath(new URL('../../../../bin/cuttle.js', import.meta.url));
const DEFAULT_ACCOUNT = 'cuttle';

interface Ran { readonly code: number; readonly stdout: string; readonly stderr: string }

/** Runs a system command; `check` turns a failure into one sentence naming the command and what it said. */
function command(cmd: string, args: readonly string[], check = true): Promise<Ran> {
  return new Promise((resolvePromise, reject) => {
    execFile(cmd, args, { timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      if ((err as NodeJS.ErrnoException | null)?.code === 'ENOENT') {
        reject(new EnvironmentError(`\`${cmd}\` is not installed on this machine; install it (Debian: apt-get install ${cmd === 'useradd' ? 'passwd' : cmd === 'runuser' ? 'util-linux' : 'systemd'}) and run the command again.`));
        return;
      }
      if (check && code !== 0) {
        reject(new EnvironmentError(`\`${cmd} ${args.join(' ')}\` failed: ${(stderr || stdout).trim().split('\n')[0] ?? `exit ${code}`}; fix that and run the command again.`));
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
  /** The built-in worker's work folder, when not under /tmp: made by --install. */
  readonly workFolder?: string;
}

export async function planService(homeDir: string, account: string, group = account): Promise<ServicePlan> {
  const home = resolve(homeDir);
  const config = readConfig(home);
  if (config.embeddedPostgres) {
    throw new EnvironmentError(`${home} was made by \`cuttle start\` (an embedded PostgreSQL, for trying Cuttle out), which a service cannot run; set up a real cluster with \`cuttle setup --database URL …\` and install that node as a service.`);
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
  const worker = readWorkerSettings(home);
  const workFolder = worker.workFolder ?? defaultWorkFolder(home, config.nodeName, account === 'root' ? 0 : -1);
  const workFolderOut = workFolder.startsWith('/tmp/') ? undefined : workFolder;
  const unit = serviceUnit({
    nodeName: config.nodeName, home, user: account, group, execPath: process.execPath, binPath: BIN,
    // A non-root node keeps its scripts' work folder under /tmp, which PrivateTmp makes its own;
    // elsewhere --install makes it (the account's, mode 0711) so that it can be named writable here.
    writable: [home, ...(clusterShared ? [clusterShared] : []), ...shared, ...(workFolderOut ? [workFolderOut] : [])],
    shutdownGraceMs: runtimeOptions().shutdownGraceMs,
  });
  return { home, config, account, unitName: serviceName(config.nodeName), unit, shared, ...(workFolderOut ? { workFolder: workFolderOut } : {}) };
}

/** Whether `user` can read, write and enter `dir`, asked as that user (its groups included). */
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

export interface InstallOptions {
  readonly home: string;
  readonly user: string;
  readonly createUser: boolean;
  readonly start: boolean;
  /** Without systemd, print the unit it would have installed (the command does; the wizard does not). */
  readonly printUnit?: boolean;
}

/** Installs (and enables, and with `start` starts) this node's service; returns what it did, line by line. */
/** Refuses, with the fix, an account that could not run this node: every check before anything changes. */
async function checkAccount(account: OsUser, plan: ServicePlan): Promise<void> {
  const worker = readWorkerSettings(plan.home);
  if (worker.username && account.uid !== 0) {
    throw new EnvironmentError(`This node runs scripts as the OS user ${worker.username} (\`cuttle builtin-worker\`), which only a node running as root can do; install with --user root, or run \`cuttle builtin-worker --reset --home ${plan.home}\` first.`);
  }
  // The account must reach everything the node uses, or the service would fail at its first start.
  for (const [file, execute] of [[process.execPath, true], [BIN, false]] as const) {
    if (!(await accountCanRead(account.name, file, execute))) {
      throw new EnvironmentError(`The account ${account.name} cannot ${execute ? 'run' : 'read'} ${file}; install Node.js and Cuttle where it can (such as /usr/local or /opt/cuttle), then run the command again.`);
    }
  }
  for (const dir of plan.shared) {
    if (!(await accountCanUse(account.name, dir))) {
      throw new EnvironmentError(`The account ${account.name} cannot read and write the shared folder ${dir}; give it access (for example \`chown -R ${account.name} ${dir}\` on the share, or an ACL for its group) and run the command again. Nothing was installed.`);
    }
  }
  if (!(await accountCanRead(account.name, dirname(plan.home), true))) {
    throw new EnvironmentError(`The account ${account.name} cannot reach the home ${plan.home} (its parent folder is closed to it); move the home (such as to /var/lib/cuttle) or open its parent folder, then run the command again.`);
  }
}

const groupOf = async (account: OsUser): Promise<string> => (await command('id', ['-gn', account.name])).stdout.trim() || account.name;

export async function installService(o: InstallOptions): Promise<string[]> {
  requireRoot('install');
  // Everything that can be checked is checked first (an existing account's access included), so a
  // refusal changes nothing: no account made, no file handed over, no unit written.
  let account: OsUser | undefined = await lookupUser(o.user);
  if (!account && !o.createUser) throw new EnvironmentError(`There is no OS user "${o.user}" on this machine; create it, or add --create-user to let \`cuttle service --install\` create it as a system account.`);
  let plan = await planService(o.home, o.user, account ? await groupOf(account) : o.user);
  if (account) await checkAccount(account, plan);
  if (!systemdRunning()) {
    if (o.printUnit === false) throw new EnvironmentError(`systemd is not running on this machine (a container?), so no service was installed; run the node under the container's own supervisor instead: \`cuttle run --home ${plan.home}\`.`);
    stdio.line(plan.unit.trimEnd());
    throw new EnvironmentError(`systemd is not running on this machine (a container?), so no service was installed; the unit above is what \`cuttle service --install\` would write to ${join(UNIT_DIR, plan.unitName)}. Run the node under the container's own supervisor instead: \`cuttle run --home ${plan.home}\`.`);
  }
  const done: string[] = [];
  if (!account) {
    await command('useradd', ['--system', '--no-create-home', '--home-dir', plan.home, '--shell', '/usr/sbin/nologin', o.user]);
    account = await lookupUser(o.user);
    if (!account) throw new EnvironmentError(`useradd created "${o.user}" but the system does not find it; check /etc/passwd and run the command again.`);
    done.push(`Created the system account ${o.user} (uid ${account.uid}).`);
    plan = await planService(o.home, account.name, await groupOf(account));
    try {
      await checkAccount(account, plan);
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
  const path = join(UNIT_DIR, plan.unitName);
  const temp = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(temp, plan.unit, { mode: 0o644 });
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw new EnvironmentError(`Could not write ${path}: ${errorMessage(err)}.`);
  }
  await command('systemctl', ['daemon-reload']);
  await command('systemctl', ['enable', plan.unitName]);
  done.push(`Installed and enabled ${plan.unitName} (${path}), running \`cuttle run --home ${plan.home}\` as ${account.name}; it stops with SIGTERM and waits ${stopTimeoutSeconds(runtimeOptions().shutdownGraceMs)} s.`);
  if (o.start) {
    await command('systemctl', ['start', plan.unitName]);
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
      if (action === 'status') {
        const show = await command('systemctl', ['show', unit, '--property=LoadState,UnitFileState,ActiveState,SubState,MainPID']);
        const p = Object.fromEntries(show.stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
        if (p.LoadState === 'not-found') throw new EnvironmentError(`${unit} is not installed; install it with \`cuttle service --install --home ${resolve(home)}\`.`);
        stdio.line(`${unit}: ${p.ActiveState} (${p.SubState})${p.MainPID && p.MainPID !== '0' ? `, main PID ${p.MainPID}` : ''}; ${p.UnitFileState === 'enabled' ? 'starts at boot' : `not started at boot (${p.UnitFileState})`}.`);
        if (p.ActiveState !== 'active') process.exitCode = 3; // as `systemctl status` says "not running"
        return;
      }
      if (action === 'uninstall') {
        await command('systemctl', ['disable', '--now', unit], false);
        await rm(join(UNIT_DIR, unit), { force: true });
        await command('systemctl', ['daemon-reload']);
        stdio.line(`Stopped, disabled and removed ${unit}; the home ${resolve(home)} is left as it is.`);
        return;
      }
      await command('systemctl', [action, unit]);
      stdio.line(action === 'start' ? `Started ${unit}.` : `Stopped ${unit}: the node drained its tasks and stopped.`);
    });
}
