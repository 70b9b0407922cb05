// `cuttle service`: the systemd unit for a node's home, checked by systemd-analyze, and the
// refusals on machines where it cannot be installed (not root; no systemd, as in this container),
// in that order, before the service account's checks.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, before } from 'node:test';
import { ROOT_CAPABILITIES, serviceName, serviceUnit, stopTimeoutSeconds } from '../src/config/service.js';
import { checkServiceAccount, installService, planService, type ServiceSystem } from '../src/cli/commands/service.js';
import { writeWorkerSettings } from '../src/tasks/builtinWorker.js';
import { BIN, cuttle, readyCluster, tempDir, testWorkerUser, type TestCluster } from './helpers.js';

const analyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' }).status === 0;
const systemd = existsSync('/run/systemd/system');
const root = process.getuid?.() === 0;
const GRACE_MS = 10_000; // the node's default shutdown grace (CUTTLE_SHUTDOWN_GRACE_SECONDS)

/** Whether `user` can read this checkout's bin/cuttle.js (not when it was cloned into a 0700 folder). */
function checkoutReadableBy(user: string): boolean {
  return spawnSync('runuser', ['-u', user, '--', 'test', '-r', BIN]).status === 0;
}

/** systemd-analyze verify of a unit text, under its own name; its exit code and what it printed (stderr: its findings). */
function verify(unit: string, name: string): { code: number | null; stderr: string; stdout: string } {
  const dir = tempDir('cuttle-unit-');
  const file = join(dir, name);
  writeFileSync(file, unit);
  const r = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
  return { code: r.status, stderr: r.stderr.trim(), stdout: r.stdout.trim() };
}

/** The value of the unit's first `key=` line. */
const setting = (unit: string, key: string): string | undefined => unit.split('\n').find((l) => l.startsWith(`${key}=`))?.slice(key.length + 1);

describe('cuttle service', () => {
  let cluster: TestCluster;
  const FOLDERS = ['TaskLogs', 'Artifacts', 'Packages', 'Telemetry', 'EventExports', 'Imports'];
  before(async () => { cluster = await readyCluster(['svc', 'svc-root', 'svc-inst']); });

  it('generates the unit for a home and an account, and systemd-analyze verify says nothing about it', { skip: !root ? 'needs root (a service account of its own)' : false }, async (t) => {
    const account = testWorkerUser('cuttle-test-svc')!;
    const home = cluster.homes[0]!;
    const plan = await planService(home, account.name);
    const unit = plan.unit;
    assert.equal(plan.unitName, 'cuttle-svc.service');
    assert.equal(setting(unit, 'Description'), 'Cuttle node svc');
    assert.equal(setting(unit, 'After'), 'network-online.target remote-fs.target');
    assert.equal(setting(unit, 'Wants'), 'network-online.target');
    assert.equal(setting(unit, 'Type'), 'simple');
    assert.equal(setting(unit, 'User'), account.name);
    assert.equal(setting(unit, 'Group'), account.name);
    assert.equal(setting(unit, 'ExecStart'), `"${process.execPath}" "${BIN}" run --home "${home}"`);
    assert.equal(setting(unit, 'Environment'), `"CUTTLE_HOME=${home}"`);
    assert.equal(setting(unit, 'Restart'), 'on-failure');
    assert.equal(setting(unit, 'RestartSec'), '5');
    assert.equal(setting(unit, 'KillSignal'), 'SIGTERM');
    assert.equal(setting(unit, 'KillMode'), 'mixed', 'SIGTERM to the node only: its scripts run on through the grace');
    assert.ok(Number(setting(unit, 'TimeoutStopSec')) > GRACE_MS / 1000, 'longer than the node\'s shutdown grace');
    assert.equal(Number(setting(unit, 'TimeoutStopSec')), stopTimeoutSeconds(GRACE_MS));
    assert.equal(setting(unit, 'LimitNOFILE'), '65536');
    assert.equal(setting(unit, 'NoNewPrivileges'), 'yes');
    assert.equal(setting(unit, 'ProtectSystem'), 'strict');
    assert.equal(setting(unit, 'PrivateTmp'), 'yes');
    assert.equal(setting(unit, 'CapabilityBoundingSet'), '', 'an account of its own needs no capability');
    assert.equal(setting(unit, 'AmbientCapabilities'), undefined);
    assert.equal(setting(unit, 'WantedBy'), 'multi-user.target');
    const writable = setting(unit, 'ReadWritePaths') ?? '';
    for (const dir of [home, cluster.shared, ...FOLDERS.map((f) => join(cluster.shared, f))]) {
      assert.ok(writable.includes(`"${dir}"`), `${dir} is writable in ${writable}`);
      assert.ok(setting(unit, 'RequiresMountsFor')?.includes(`"${dir}"`), `${dir} is mounted before the node starts`);
    }
    assert.doesNotMatch(writable, /\/tmp\/cuttle-work-|\/var\/lib\/cuttle\/work/, 'the scripts\' work folder of an account that is not root is in its own /tmp');
    if (!analyze) { t.skip('systemd-analyze is not installed: the unit was not verified'); return; }
    const v = verify(unit, plan.unitName);
    assert.equal(v.code, 0, v.stderr);
    assert.equal(v.stderr, '', 'systemd-analyze verify finds nothing to say');
  });

  it('runs a node whose scripts run as another OS user as root only, with the capabilities it uses and its work folder writable', { skip: !root ? 'needs root (a worker user)' : false }, async (t) => {
    const account = testWorkerUser('cuttle-test-svc')!;
    const worker = testWorkerUser()!;
    const home = cluster.homes[1]!;
    writeWorkerSettings(home, { username: worker.name });
    await assert.rejects(planService(home, account.name), (err: Error) => {
      assert.equal(err.message, `This node runs scripts as the OS user ${worker.name} (\`cuttle builtin-worker\`), which only a node running as root can do; install with --user root, or run \`cuttle builtin-worker --reset --home ${home}\` first.`);
      return true;
    });
    const plan = await planService(home, 'root');
    assert.equal(setting(plan.unit, 'User'), 'root');
    assert.equal(setting(plan.unit, 'CapabilityBoundingSet'), ROOT_CAPABILITIES.join(' '));
    for (const cap of ['CAP_SETUID', 'CAP_SETGID', 'CAP_KILL', 'CAP_SYS_ADMIN']) assert.ok(ROOT_CAPABILITIES.includes(cap), cap);
    assert.match(plan.workFolder ?? '', /^\/var\/lib\/cuttle\/work\/svc-root-[0-9a-f]{8}$/);
    assert.ok(setting(plan.unit, 'ReadWritePaths')?.includes(`"${plan.workFolder!}"`), 'the scripts\' work folder is writable');
    if (!analyze) { t.skip('systemd-analyze is not installed: the unit was not verified'); return; }
    const v = verify(plan.unit, plan.unitName);
    assert.equal(v.code, 0, v.stderr);
    assert.equal(v.stderr, '', 'systemd-analyze verify finds nothing to say');
  });

  it('gives an account of its own the one capability to listen below port 1024, and names the unit after the node', () => {
    const unit = (listenPort: number) => serviceUnit({
      nodeName: 'n', home: '/var/lib/cuttle/n', user: 'cuttle', group: 'cuttle', execPath: '/usr/bin/node', binPath: '/opt/cuttle/bin/cuttle.js',
      writable: ['/var/lib/cuttle/n'], shutdownGraceMs: GRACE_MS, listenPort,
    });
    assert.equal(setting(unit(80), 'CapabilityBoundingSet'), 'CAP_NET_BIND_SERVICE');
    assert.equal(setting(unit(80), 'AmbientCapabilities'), 'CAP_NET_BIND_SERVICE');
    assert.equal(setting(unit(8080), 'CapabilityBoundingSet'), '');
    assert.equal(setting(unit(8080), 'AmbientCapabilities'), undefined);
    assert.equal(serviceName('node-a.example_1'), 'cuttle-node-a.example_1.service');
    assert.equal(serviceName('a b/c'), 'cuttle-a_b_c.service');
    assert.throws(() => serviceUnit({
      nodeName: 'n', home: '/var/lib/cuttle/n\n[Service]', user: 'cuttle', group: 'cuttle', execPath: '/usr/bin/node', binPath: '/b.js', writable: [], shutdownGraceMs: GRACE_MS,
    }), /holds a control character, which a systemd unit cannot hold/);
  });

  it('quotes paths with spaces, quotes, % and $ in the unit, as systemd-analyze reads them', { skip: !analyze ? 'needs systemd-analyze' : !root ? 'needs root (a service account)' : false }, () => {
    const account = testWorkerUser('cuttle-test-svc')!;
    const odd = join(tempDir('cuttle-odd-'), 'my "home" 100% $HOME');
    mkdirSync(odd, { recursive: true });
    const unit = serviceUnit({
      nodeName: 'odd', home: odd, user: account.name, group: account.name, execPath: process.execPath, binPath: BIN,
      writable: [odd, '/var/lib/cuttle/work/odd-1234'], mounts: [odd], shutdownGraceMs: 20_000,
    });
    assert.match(unit, /^ExecStart=.* run --home ".*my \\"home\\" 100%% \$\$HOME"$/m);
    assert.match(unit, /^ReadWritePaths=".*my \\"home\\" 100%% \$HOME" "\/var\/lib\/cuttle\/work\/odd-1234"$/m);
    assert.equal(stopTimeoutSeconds(20_000), 50);
    assert.match(unit, /^TimeoutStopSec=50$/m);
    const v = verify(unit, 'cuttle-odd.service');
    assert.equal(v.code, 0, v.stderr);
    assert.equal(v.stderr, '');
  });

  it('checks the service account before anything changes: a missing one without --create-user, a missing shared folder, one it cannot write', { skip: !root ? 'needs root (runuser, a service account)' : false }, async () => {
    const home = cluster.homes[0]!;
    const missing = await planService(home, 'cuttle-no-such-user');
    await assert.rejects(checkServiceAccount(missing, false), (err: Error) => {
      assert.equal(err.message, 'There is no OS user "cuttle-no-such-user" on this machine; create it, or add --create-user to let `cuttle service --install` create it as a system account.');
      return true;
    });
    assert.equal(await checkServiceAccount(missing, true), undefined, 'with --create-user, --install creates it (and checks it again)');
    assert.equal(spawnSync('id', ['cuttle-no-such-user']).status, 1, 'the check created no account');

    const account = testWorkerUser('cuttle-test-svc')!;
    const plan = await planService(home, account.name);
    if (!checkoutReadableBy(account.name)) {
      // A checkout in a folder closed to other users: the account could not run Cuttle at all.
      await assert.rejects(checkServiceAccount(plan, false), new RegExp(`The account cuttle-test-svc cannot read ${BIN}; install Node\\.js and Cuttle where it can`));
      return;
    }
    const gone = join(cluster.root, 'no-such-share');
    await assert.rejects(checkServiceAccount({ ...plan, shared: [gone] }, false), (err: Error) => {
      assert.equal(err.message, `The shared folder ${gone} does not exist on this server; mount the share (or create the folder) so that cuttle-test-svc can read and write it, then run the command again. Nothing was installed.`);
      return true;
    });
    // The shared folders are root's: the account could read them but not write.
    await assert.rejects(checkServiceAccount(plan, false), new RegExp(`^EnvironmentError: The account cuttle-test-svc cannot read and write the shared folder ${cluster.shared}/\\w+; give it access \\(for example \`chown -R cuttle-test-svc ${cluster.shared}/\\w+\` on the share, or an ACL for its group\\) and run the command again\\. Nothing was installed\\.$`));
    // The operator's part of the guide: the share is the service account's. Then it passes.
    assert.equal(spawnSync('chown', ['-R', account.name, cluster.shared]).status, 0);
    try {
      assert.deepEqual(await checkServiceAccount(plan, false), { name: account.name, uid: account.uid, gid: account.gid });
    } finally {
      spawnSync('chown', ['-R', 'root', cluster.shared]);
    }
    assert.equal(statSync(home).uid, 0, 'checking handed nothing over');
  });

  it('as root without systemd: prints the unit it would install, says systemd is not running, and changes nothing', { skip: !root ? 'needs root' : systemd ? 'systemd runs here: --install would install' : false }, async () => {
    const home = cluster.homes[0]!;
    // Refused for systemd before the account is looked at: this one does not exist, and is not created.
    const r = cuttle(['service', '--install', '--user', 'cuttle-svc-nobody', '--create-user', '--start', '--home', home]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.equal(r.stderr, `cuttle: systemd is not running on this machine (a container?), so no service was installed; the unit above is what \`cuttle service --install\` would write to /etc/systemd/system/cuttle-svc.service; run the node under the container's own supervisor instead: \`cuttle run --home ${home}\`.\n`);
    assert.equal(r.stdout.trim(), (await planService(home, 'cuttle-svc-nobody')).unit.trim(), 'the unit printed is the one generated');
    assert.match(r.stdout, /^User=cuttle-svc-nobody$/m);
    assert.match(r.stdout, new RegExp(`^ExecStart=.* run --home "${home}"$`, 'm'));
    assert.ok(!existsSync('/etc/systemd/system/cuttle-svc.service'), 'nothing was installed');
    assert.equal(spawnSync('id', ['cuttle-svc-nobody']).status, 1, 'no account was created');
    assert.equal(statSync(home).uid, 0, 'the home was not handed over');
    // The default account is cuttle.
    const d = cuttle(['service', '--install', '--home', home]);
    assert.equal(d.code, 1, d.stderr);
    assert.match(d.stdout, /^User=cuttle$/m);
  });

  it('--install where systemd runs (a stand-in here): a new account that cannot write the share is taken away again; one that can gets the home, the unit, enabled and started', { skip: !root ? 'needs root (useradd, chown)' : false }, async (t) => {
    const home = cluster.homes[2]!;
    const name = 'cuttle-test-inst';
    if (spawnSync('id', [name]).status === 0) spawnSync('userdel', [name]);
    if (!checkoutReadableBy(testWorkerUser('cuttle-test-svc')!.name)) { t.skip('this checkout lies in a folder closed to other users: a service account could not run it'); return; }
    const unitDir = tempDir('cuttle-units-');
    const calls: string[][] = [];
    const system: ServiceSystem = { unitDir, systemdRunning: () => true, systemctl: (args) => { calls.push([...args]); return Promise.resolve(); } };
    const install = () => installService({ home, user: name, createUser: true, start: true }, system);

    // The shared folders are root's: the new account is refused, and removed again.
    await assert.rejects(install(), new RegExp(`The account ${name} cannot read and write the shared folder ${cluster.shared}/\\w+; give it access`));
    assert.equal(spawnSync('id', [name]).status, 1, 'the account made for it was removed');
    assert.deepEqual(readdirSync(unitDir), [], 'no unit written');
    assert.deepEqual(calls, [], 'systemctl not run');
    assert.equal(statSync(home).uid, 0, 'the home was not handed over');

    // Opened to every account (the operator's part: an ACL or the account's own share), it is installed.
    const shared = [cluster.shared, ...FOLDERS.map((f) => join(cluster.shared, f))];
    const modes = shared.map((d) => statSync(d).mode & 0o7777);
    shared.forEach((d) => chmodSync(d, 0o777));
    try {
      const done = await install();
      const account = { uid: Number(spawnSync('id', ['-u', name], { encoding: 'utf8' }).stdout), gid: Number(spawnSync('id', ['-g', name], { encoding: 'utf8' }).stdout) };
      assert.match(done[0] ?? '', new RegExp(`^Created the system account ${name} \\(uid ${account.uid}\\)\\.$`));
      assert.equal(done[1], `Handed the home ${home} to ${name}.`);
      assert.equal(done[2], `Installed and enabled cuttle-svc-inst.service (${join(unitDir, 'cuttle-svc-inst.service')}), running \`cuttle run --home ${home}\` as ${name}; it stops with SIGTERM and waits ${stopTimeoutSeconds(GRACE_MS)} s.`);
      assert.equal(done[3], 'Started cuttle-svc-inst.service; follow it with `journalctl -u cuttle-svc-inst.service -f`.');
      assert.equal(spawnSync('getent', ['passwd', name], { encoding: 'utf8' }).stdout.trim().split(':').pop(), '/usr/sbin/nologin', 'a system account without a shell');
      for (const f of [home, ...readdirSync(home).map((n) => join(home, n))]) assert.equal(statSync(f).uid, account.uid, `${f} is the account's`);
      assert.deepEqual(readdirSync(unitDir), ['cuttle-svc-inst.service'], 'the unit alone, no temporary file left');
      const file = join(unitDir, 'cuttle-svc-inst.service');
      assert.equal(statSync(file).mode & 0o777, 0o644);
      assert.equal(readFileSync(file, 'utf8'), (await planService(home, name)).unit);
      assert.deepEqual(calls, [['daemon-reload'], ['enable', 'cuttle-svc-inst.service'], ['start', 'cuttle-svc-inst.service']]);
    } finally {
      shared.forEach((d, i) => chmodSync(d, modes[i]!));
      spawnSync('userdel', [name]);
    }
  });

  it('refuses a user who is not root with one sentence, before anything else', { skip: !root ? 'already not root' : false }, () => {
    const home = cluster.homes[0]!;
    for (const [action, why] of [['--install', ' and hands the home to the service account'], ['--start', ''], ['--stop', ''], ['--uninstall', '']] as const) {
      // uid 65534, keeping only the right to read files (the checkout may lie in a folder closed to others).
      const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=+dac_read_search', '--ambient-caps=+dac_read_search', process.execPath, BIN, 'service', action, '--home', home], { encoding: 'utf8' });
      assert.equal(r.status, 1, r.stderr);
      assert.equal(r.stderr, `cuttle: \`cuttle service ${action}\` must run as root (it manages a systemd unit${why}); run it again with sudo.\n`);
      assert.equal(r.stdout, '', 'no unit printed');
    }
  });

  it('says there is nothing to manage without systemd', { skip: systemd ? 'systemd runs here' : !root ? 'needs root' : false }, () => {
    for (const action of ['--status', '--start', '--stop', '--uninstall']) {
      const r = cuttle(['service', action, '--home', cluster.homes[0]!]);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stderr, 'cuttle: systemd is not running on this machine (a container?), so there is no service to manage; run the node with `cuttle run` under the container\'s own supervisor.\n');
    }
  });

  it('refuses contradictory or missing actions as usage errors', () => {
    const home = cluster.homes[0]!;
    const cases: [string[], RegExp][] = [
      [[], /Say what to do: `cuttle service --install/],
      [['--install', '--stop'], /--install and --stop cannot go together; give one of them/],
      [['--start', '--stop'], /--stop and --start cannot go together/],
      [['--status', '--uninstall'], /--status and --uninstall cannot go together/],
      [['--stop', '--user', 'x'], /--user and --create-user go with --install only/],
      [['--start', '--create-user'], /--user and --create-user go with --install only/],
      [['--install', '--user', 'Bad User'], /"Bad User" is not a valid account name/],
    ];
    for (const [args, pattern] of cases) {
      const r = cuttle(['service', ...args, '--home', home]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, pattern);
      assert.equal(r.stdout, '');
    }
  });
});
