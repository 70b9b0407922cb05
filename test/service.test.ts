// `cuttle service`: the systemd unit for a node's home, checked by systemd-analyze, and the
// refusals on machines where it cannot be installed (not root; no systemd, as in this container).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, before } from 'node:test';
import { serviceUnit, stopTimeoutSeconds } from '../src/config/service.js';
import { planService } from '../src/cli/commands/service.js';
import { BIN, cuttle, readyCluster, tempDir, testWorkerUser, type TestCluster } from './helpers.js';

const analyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' }).status === 0;
const systemd = existsSync('/run/systemd/system');
const root = process.getuid?.() === 0;

/** Whether `user` can read this checkout's bin/cuttle.js (not when it was cloned into a 0700 folder). */
function checkoutReadableBy(user: string): boolean {
  return spawnSync('runuser', ['-u', user, '--', 'test', '-r', BIN]).status === 0;
}

/** systemd-analyze verify of a unit text, under its own name; its findings (stderr) and exit code. */
function verify(unit: string, name: string): { code: number | null; findings: string } {
  const dir = tempDir('cuttle-unit-');
  const file = join(dir, name);
  writeFileSync(file, unit);
  const r = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
  return { code: r.status, findings: (r.stderr + r.stdout).trim() };
}

describe('cuttle service', () => {
  let cluster: TestCluster;
  before(async () => { cluster = await readyCluster(['svc']); });

  it('checks the account first: one that does not exist, or cannot write the shared folders, is refused and nothing changes', { skip: !root ? 'needs root' : systemd ? 'systemd runs here' : false }, () => {
    const home = cluster.homes[0]!;
    const missing = cuttle(['service', '--install', '--user', 'cuttle-no-such-user', '--home', home]);
    assert.equal(missing.code, 1, missing.stderr);
    assert.match(missing.stderr, /There is no OS user "cuttle-no-such-user" on this machine; create it, or add --create-user/);
    const account = testWorkerUser('cuttle-test-svc')!;
    // The shared folders are root's (0755): the account could read them but not write. (A checkout
    // in a folder closed to other users is refused before that: the account could not run Cuttle.)
    const blocked = cuttle(['service', '--install', '--user', account.name, '--home', home]);
    assert.equal(blocked.code, 1, blocked.stderr);
    assert.match(blocked.stderr, checkoutReadableBy(account.name)
      ? new RegExp(`The account cuttle-test-svc cannot read and write the shared folder ${cluster.shared}/\\w+; give it access`)
      : new RegExp(`The account cuttle-test-svc cannot read ${BIN}; install Node.js and Cuttle where it can`));
    assert.equal(blocked.stdout, '', 'no unit printed for an account that could not run the node');
    assert.equal(statSync(home).uid, 0, 'the home was not handed over');
  });

  it('generates the unit for a home and an account, and systemd-analyze verify finds nothing to say', { skip: !root ? 'needs root (a service account)' : false }, async () => {
    const account = testWorkerUser('cuttle-test-svc')!;
    const home = cluster.homes[0]!;
    const plan = await planService(home, account.name);
    const unit = plan.unit;
    assert.equal(plan.unitName, 'cuttle-svc.service');
    const line = (key: string) => unit.split('\n').find((l) => l.startsWith(`${key}=`))?.slice(key.length + 1);
    assert.equal(line('User'), account.name);
    assert.equal(line('ExecStart'), `"${process.execPath}" "${BIN}" run --home "${home}"`);
    assert.equal(line('Restart'), 'on-failure');
    assert.equal(line('KillSignal'), 'SIGTERM');
    assert.ok(Number(line('TimeoutStopSec')) > 10, 'longer than the node\'s 10 s shutdown grace');
    assert.equal(line('NoNewPrivileges'), 'yes');
    assert.equal(line('ProtectSystem'), 'strict');
    assert.equal(line('PrivateTmp'), 'yes');
    const writable = line('ReadWritePaths') ?? '';
    for (const dir of [home, cluster.shared, ...['TaskLogs', 'Artifacts', 'Packages', 'Telemetry', 'EventExports', 'Imports'].map((f) => join(cluster.shared, f))]) {
      assert.ok(writable.includes(`"${dir}"`), `${dir} is writable in ${writable}`);
    }
    if (analyze) {
      const v = verify(unit, plan.unitName);
      assert.equal(v.code, 0, v.findings);
      assert.equal(v.findings, '', 'systemd-analyze verify finds nothing to say');
    }
  });

  it('prints the unit it would install where systemd is not running, and installs nothing', { skip: !root ? 'needs root' : systemd ? 'systemd runs here: --install would install' : false }, async (t) => {
    const account = testWorkerUser('cuttle-test-svc')!;
    if (!checkoutReadableBy(account.name)) { t.skip('this checkout lies in a folder closed to other users: the account check refuses it (tested above)'); return; }
    const home = cluster.homes[0]!;
    // The operator's part of the guide: the share is the service account's, the home's folder open to it.
    spawnSync('chown', ['-R', account.name, cluster.shared]);
    chmodSync(cluster.root, 0o755);
    const r = cuttle(['service', '--install', '--user', account.name, '--home', home]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /systemd is not running on this machine \(a container\?\), so no service was installed; the unit above is what `cuttle service --install` would write to \/etc\/systemd\/system\/cuttle-svc\.service\. Run the node under the container's own supervisor instead: `cuttle run --home /);
    assert.equal(r.stdout.trim(), (await planService(home, account.name)).unit.trim(), 'the unit printed is the one generated');
    assert.ok(!existsSync('/etc/systemd/system/cuttle-svc.service'), 'nothing was installed');
    assert.equal(statSync(home).uid, 0, 'the home was not handed over');
  });

  it('quotes paths with spaces, quotes and % in the unit, as systemd-analyze reads them', { skip: !analyze ? 'needs systemd-analyze' : !root ? 'needs root (a service account)' : false }, () => {
    const account = testWorkerUser('cuttle-test-svc')!;
    const odd = join(tempDir('cuttle-odd-'), 'my "home" 100% $HOME');
    mkdirSync(odd, { recursive: true });
    const unit = serviceUnit({
      nodeName: 'odd', home: odd, user: account.name, group: account.name, execPath: process.execPath, binPath: BIN,
      writable: [odd, '/var/lib/cuttle/work/odd-1234'], shutdownGraceMs: 20_000,
    });
    assert.match(unit, /^ExecStart=.* run --home ".*my \\"home\\" 100%% \$\$HOME"$/m);
    assert.match(unit, /^ReadWritePaths=".*my \\"home\\" 100%% \$HOME" "\/var\/lib\/cuttle\/work\/odd-1234"$/m);
    assert.equal(stopTimeoutSeconds(20_000), 50);
    assert.match(unit, /^TimeoutStopSec=50$/m);
    const v = verify(unit, 'cuttle-odd.service');
    assert.equal(v.code, 0, v.findings);
    assert.equal(v.findings, '');
  });

  it('refuses a user who is not root with a sentence, and writes nothing', { skip: !root ? 'already not root' : false }, () => {
    const home = cluster.homes[0]!;
    for (const action of [['--install'], ['--start'], ['--stop'], ['--uninstall']]) {
      // uid 65534, keeping only the right to read files (the checkout may lie in a folder closed to others).
      const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=+dac_read_search', '--ambient-caps=+dac_read_search', process.execPath, BIN, 'service', ...action, '--home', home], { encoding: 'utf8' });
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`^cuttle: \`cuttle service ${action[0]}\` must run as root \\(it manages a systemd unit.*\\); run it again with sudo\\.\\n$`));
    }
  });

  it('says there is nothing to manage without systemd', { skip: systemd ? 'systemd runs here' : !root ? 'needs root' : false }, () => {
    for (const action of ['--status', '--start', '--stop', '--uninstall']) {
      const r = cuttle(['service', action, '--home', cluster.homes[0]!]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /systemd is not running on this machine \(a container\?\), so there is no service to manage; run the node with `cuttle run` under the container's own supervisor\./);
    }
  });

  it('refuses contradictory or missing actions as usage errors', () => {
    const home = cluster.homes[0]!;
    const cases: [string[], RegExp][] = [
      [[], /Say what to do: `cuttle service --install/],
      [['--install', '--stop'], /--install and --stop cannot go together/],
      [['--stop', '--user', 'x'], /--user and --create-user go with --install only/],
      [['--install', '--user', 'Bad User'], /"Bad User" is not a valid account name/],
    ];
    for (const [args, pattern] of cases) {
      const r = cuttle(['service', ...args, '--home', home]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, pattern);
    }
  });
});
