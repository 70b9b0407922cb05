// The built-in worker as an OS user of its own (SPEC §4 "Scripts are untrusted"): configured with
// the real CLI, on a real node, with a real OS user. Scripts report what they could reach.
import assert from 'node:assert/strict';
import { describe, it, before, after } from 'node:test';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultWorkFolder } from '../src/tasks/workFolder.js';
import { ADMIN_API_KEY, BIN, adminQuery, api, cuttle, queueTask, readyCluster, recordPid, recordedRunning, startNode, tempDir, testWorkerUser, untilTask, waitFor, type NodeProcess, type OsTestUser, type TestCluster } from './helpers.js';

const K = { apiKey: ADMIN_API_KEY };
const worker = testWorkerUser();
// Without a PID namespace (a process group instead), a setsid daemon outlives its task: those tests need one.
const namespaces = spawnSync('unshare', ['--pid', '--fork', '--kill-child', '--mount-proc', 'true']).status === 0;
const needsNamespaces = namespaces ? false : 'this machine offers no PID namespace (unshare), so scripts are not contained';
const finished = (node: NodeProcess, id: string) => untilTask(node, id, (t) => t.IsCompleted, 'to finish', 30_000);
const raw = async (node: NodeProcess, id: string) => (await api(node.url, `/api/tasks/${id}/raw`, K)).body as string;
const mode = (path: string) => statSync(path).mode & 0o777;

// Each attempt prints ALLOWED or DENIED with its name; the script itself goes on and succeeds.
const TRY = 'try() { if eval "$2" >/dev/null 2>&1; then echo "ALLOWED $1"; else echo "DENIED $1"; fi; }';
// A service message written by hand: the helper resolves links first, an attacker would not.
const EMIT = `emit() { echo "##octopus[createArtifact path='$(printf %s "$1" | base64 -w0)' name='$(printf %s "$2" | base64 -w0)']"; }`;

describe('the built-in worker running scripts as an OS user of its own', { skip: worker ? false : 'needs root: creates an OS user and switches to it' }, () => {
  let cluster: TestCluster;
  let home: string;
  let node: NodeProcess;
  let user: OsTestUser;
  // Where scripts record pids: any user may write here.
  let records: string;
  let firstTask: string;

  before(async () => {
    user = worker!;
    cluster = await readyCluster(['iso']);
    home = cluster.homes[0]!;
    records = tempDir('cuttle-records-');
    chmodSync(records, 0o1777);
  });
  after(async () => { await node?.kill('SIGTERM'); });

  it('`cuttle builtin-worker` prints the setting, refuses what cannot work with one sentence, and stores the user in the home', () => {
    const now = cuttle(['builtin-worker', '--home', home]);
    assert.equal(now.code, 0, now.stderr);
    assert.match(now.stdout, /^Node iso runs scripts as its own user \(root\), in \/var\/lib\/cuttle\/work\/iso-[0-9a-f]{8}; `cuttle builtin-worker --username USER` runs them as a user that cannot read the home\.$/m);
    assert.match(now.stdout, /^Scripts are contained in a PID namespace per script|^no containment for scripts is available/m);

    const doctor = cuttle(['doctor', '--home', home]);
    assert.match(doctor.stdout, /^WARN {2}scripts run as the node's own user \(root\), so a script can read the home \(master key, database password\) and write shared storage; run `cuttle builtin-worker --username USER`/m);

    const unknown = cuttle(['builtin-worker', '--home', home, '--username', 'no-such-user-x7']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^cuttle: There is no OS user "no-such-user-x7" on this machine; create it \(e\.g\. `useradd --system --no-create-home --shell \/usr\/sbin\/nologin no-such-user-x7`\) and run this again\.\n$/);
    const self = cuttle(['builtin-worker', '--home', home, '--username', 'root']);
    assert.equal(self.code, 1);
    assert.match(self.stderr, /"root" is the node's own user \(uid 0\), so scripts could read the node's secrets; give an unprivileged user/);
    const both = cuttle(['builtin-worker', '--home', home, '--username', user.name, '--reset']);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /--username and --reset contradict each other/);
    // Not root: the node could not switch users, so the command refuses (a home of the worker's own).
    const own = tempDir('cuttle-home-');
    writeFileSync(join(own, 'cuttle.config.json'), JSON.stringify({ nodeName: 'plain', databaseUrl: 'postgres://x@127.0.0.1:1/x', listen: '127.0.0.1:1' }));
    chownSync(own, user.uid, user.gid);
    chownSync(join(own, 'cuttle.config.json'), user.uid, user.gid);
    // Only when the worker can reach this checkout at all (a CI clone may sit in a 0700 folder).
    if (spawnSync('test', ['-r', BIN], { uid: user.uid, gid: user.gid }).status === 0) {
      const plain = spawnSync(process.execPath, [BIN, 'builtin-worker', '--home', own, '--username', 'nobody'], { uid: user.uid, gid: user.gid, encoding: 'utf8', cwd: own });
      assert.equal(plain.status, 1);
      assert.equal(plain.stderr, `cuttle: Only a node that runs as root can run scripts as another user, and this one runs as ${user.name}; run the node (and this command) as root, or leave scripts on the node's own user.\n`);
    } else {
      process.stdout.write(`# skipped the not-root refusal: ${user.name} cannot read ${BIN}\n`);
    }
    const relative = cuttle(['builtin-worker', '--home', home, '--work-folder', 'work']);
    assert.equal(relative.code, 2);
    const inHome = cuttle(['builtin-worker', '--home', home, '--work-folder', join(home, 'Work')]);
    assert.equal(inHome.code, 1);
    assert.match(inHome.stderr, /lies inside the node's home/);
    assert.equal(existsSync(join(home, 'builtin-worker.json')), false, 'nothing was stored by a refused command');

    const set = cuttle(['builtin-worker', '--home', home, '--username', user.name]);
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, new RegExp(`^Node iso will run scripts as OS user ${user.name} \\(uid ${user.uid}, gid ${user.gid}\\), in .*, from its next start; restart the node to apply this\\.$`, 'm'));
    assert.equal(mode(join(home, 'builtin-worker.json')), 0o600);
    assert.match(cuttle(['builtin-worker', '--home', home]).stdout, new RegExp(`^Node iso runs scripts as OS user ${user.name} \\(uid ${user.uid}, gid ${user.gid}\\)`, 'm'));
  });

  it('closes the home and the shared folders to other users when the node starts', async () => {
    // Modes as careless hands leave them: the node must fix them, not trust them.
    chmodSync(home, 0o755);
    chmodSync(join(home, 'master.key'), 0o644);
    chmodSync(join(home, 'cuttle.config.json'), 0o644);
    chmodSync(join(cluster.shared, 'TaskLogs'), 0o777);
    node = await startNode(home, 'iso');
    assert.equal(mode(home), 0o700);
    assert.equal(mode(join(home, 'master.key')), 0o600);
    assert.equal(mode(join(home, 'cuttle.config.json')), 0o600);
    for (const f of ['TaskLogs', 'Artifacts', 'Packages', 'Telemetry', 'EventExports', 'Imports']) {
      assert.equal(mode(join(cluster.shared, f)) & 0o007, 0, `${f} gives others nothing`);
    }
    const doctor = cuttle(['doctor', '--home', home]);
    assert.equal(doctor.code, 0, doctor.stdout);
    assert.match(doctor.stdout, new RegExp(`^ok {4}scripts run as ${user.name} \\(uid ${user.uid}, gid ${user.gid}\\), not as the node's user$`, 'm'));
    assert.match(doctor.stdout, /^ok {4}scripts run in \/var\/lib\/cuttle\/work\/iso-[0-9a-f]{8}, outside the home and shared storage$/m);
    assert.doesNotMatch(doctor.stdout, /can (read|write) the \w+ folder/);
    // A machine without util-linux's unshare: doctor says scripts are not contained, and how to fix it.
    const bin = tempDir('cuttle-bin-');
    for (const tool of ['getent', 'setpriv']) symlinkSync(spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim(), join(bin, tool));
    const bare = cuttle(['doctor', '--home', home], { PATH: bin });
    assert.match(bare.stdout, /^WARN {2}no containment for scripts is available \(.*unshare is not installed.*\): a script that daemonises with setsid can outlive its task; run the node as root .* with util-linux's unshare installed$/m);

    const first = await queueTask(node, { Name: 'AdHocScript', Arguments: { ScriptBody: 'echo first' } });
    assert.equal((await finished(node, first.Id)).State, 'Success');
    firstTask = first.Id as string;
  });

  it('runs the script as the worker, in a work folder outside the home: it reads no secret of the node, writes no shared folder, and succeeds', async () => {
    const shared = cluster.shared;
    const body = [
      TRY,
      `try master.key "cat ${home}/master.key"`,
      `try config-file "cat ${home}/cuttle.config.json"`,
      `try home-listing "ls ${home}"`,
      `try node-environment "cat /proc/${node.child.pid}/environ"`,
      `try node-memory "head -c1 /proc/${node.child.pid}/mem"`,
      `try read-other-log "cat ${shared}/TaskLogs/${firstTask}/attempt-1.log"`,
      `try write-other-log "echo forged >> ${shared}/TaskLogs/${firstTask}/attempt-1.log"`,
      `try replace-other-log "mv ${shared}/TaskLogs/${firstTask} ${shared}/TaskLogs/moved"`,
      ...['TaskLogs', 'Artifacts', 'Packages', 'Telemetry', 'EventExports', 'Imports'].map((f) => `try write-${f} "touch ${shared}/${f}/planted"`),
      `try write-beacon "echo forged > ${shared}/TaskLogs/.cuttle-nodes/iso.beacon"`,
      `try write-shared-root "touch ${shared}/planted"`,
      'echo "uid=$(id -u) groups=$(id -G) home=$HOME pwd=$PWD"',
      'ps -e -o comm= | grep -qx node && echo "node process: visible" || echo "node process: hidden"',
      'echo "my own" > own.txt; new_octopusartifact own.txt',
    ].join('\n');
    const t = await queueTask(node, { Name: 'AdHocScript', Arguments: { ScriptBody: body } });
    const done = await finished(node, t.Id);
    const log = await raw(node, t.Id);
    assert.equal(done.State, 'Success', `${done.ErrorMessage}\n${log}`);
    assert.doesNotMatch(log, /ALLOWED/);
    const denied = [...log.matchAll(/DENIED (\S+)/g)].map((m) => m[1]);
    assert.equal(denied.length, body.split('\n').filter((l) => l.startsWith('try ')).length, log);
    assert.match(log, new RegExp(`uid=${user.uid} groups=${user.gid} home=(\\S+) pwd=\\1$`, 'm'));
    const workFolder = /home=(\S+)/.exec(log)![1]!;
    assert.ok(workFolder.startsWith(defaultWorkFolder(home, 'iso') + '/'), workFolder);
    assert.ok(!workFolder.startsWith(home) && !workFolder.startsWith(shared), workFolder);
    if (namespaces) assert.match(log, /node process: hidden/);
    // Nothing planted, nothing forged, nothing moved.
    assert.equal(readFileSync(join(shared, 'TaskLogs', firstTask, 'attempt-1.log'), 'utf8').includes('forged'), false);
    for (const f of ['TaskLogs', 'Artifacts', 'Packages']) assert.equal(existsSync(join(shared, f, 'planted')), false);
    // Its own artifact works.
    const list = await api(node.url, `/api/Spaces-1/artifacts?regarding=${t.Id}`, K);
    assert.equal(list.body.TotalResults, 1);
    const content = await fetch(`${node.url}/api/Spaces-1/artifacts/${list.body.Items[0].Id}/content`, { headers: { 'X-Octopus-ApiKey': ADMIN_API_KEY } });
    assert.equal(await content.text(), 'my own\n');
    assert.equal(existsSync(workFolder), false, 'the work folder is removed after the script');
  });

  it('collects no artifact from outside its work folder: not by a symbolic link, an absolute path, a linked folder or a hard link', async () => {
    const body = [
      EMIT,
      `ln -s ${home}/master.key key-link; emit "$PWD/key-link" key-link.txt`,
      'ln -s /etc/passwd passwd-link; emit "$PWD/passwd-link" passwd-link.txt',
      'emit /etc/passwd passwd.txt',
      `emit ${home}/master.key master.txt`,
      `ln -s ${home} home-link; emit "$PWD/home-link/master.key" via-folder.txt`,
      // A second name for a file of its own: whatever the other name is, it is refused.
      'echo mine > original; ln original hard; emit "$PWD/hard" hard.txt',
      'mkfifo pipe; emit "$PWD/pipe" pipe.txt',
    ].join('\n');
    const t = await queueTask(node, { Name: 'AdHocScript', Arguments: { ScriptBody: body } });
    const done = await finished(node, t.Id);
    assert.equal(done.State, 'Failed');
    const log = await raw(node, t.Id);
    const refusal = (name: string) => new RegExp(`Could not collect artifact ${name.replace('.', '\\.')}: (.*)$`, 'm').exec(log)?.[1] ?? `(no refusal for ${name})`;
    assert.match(refusal('key-link.txt'), /is a symbolic link/);
    assert.match(refusal('passwd-link.txt'), /is a symbolic link/);
    assert.match(refusal('passwd.txt'), /is not a file in the script's work folder/);
    assert.match(refusal('master.txt'), /is not a file in the script's work folder/);
    assert.match(refusal('via-folder.txt'), /is not a file in the script's work folder/);
    assert.match(refusal('hard.txt'), /has 2 hard links/);
    assert.match(refusal('pipe.txt'), /is not a regular file/);
    assert.doesNotMatch(log, /Artifact \S+ collected/);
    assert.equal((await adminQuery('SELECT count(*)::int AS n FROM artifacts WHERE task_id = $1', [t.Id], cluster.databaseUrl)).rows[0]?.n, 0);
    const folder = join(cluster.shared, 'Artifacts', t.Id);
    assert.deepEqual(existsSync(folder) ? readdirSync(folder) : [], []);
  });

  it('leaves no process of a task running when it ends: a setsid daemon and a double-forked one are gone', { skip: needsNamespaces }, async () => {
    const [a, b] = [join(records, 'end-setsid'), join(records, 'end-forked')];
    const body = [
      `setsid sleep 300 & ${recordPid(a)}`,
      `( setsid bash -c 'sleep 301 & ${recordPid(b)}' & )`,
      `while [ ! -f ${b} ]; do sleep 0.05; done`,
    ].join('\n');
    const t = await queueTask(node, { Name: 'AdHocScript', Arguments: { ScriptBody: body } });
    const done = await finished(node, t.Id);
    assert.equal(done.State, 'Success', `${done.ErrorMessage}\n${await raw(node, t.Id)}`);
    await waitFor('the daemons of a finished task to be gone', () => !recordedRunning(readFileSync(a, 'utf8')) && !recordedRunning(readFileSync(b, 'utf8')), 10_000);
  });

  it('leaves none running when its node is killed with SIGKILL', { skip: needsNamespaces }, async () => {
    const [main, a, b] = [join(records, 'kill-main'), join(records, 'kill-setsid'), join(records, 'kill-forked')];
    const body = [
      recordPid(main, '$$'),
      `setsid sleep 300 & ${recordPid(a)}`,
      `( setsid bash -c 'sleep 301 & ${recordPid(b)}' & )`,
      'sleep 300',
    ].join('\n');
    const t = await queueTask(node, { Name: 'AdHocScript', Arguments: { ScriptBody: body } });
    await waitFor('the script and its daemons', () => existsSync(main) && existsSync(a) && existsSync(b), 15_000);
    assert.ok(recordedRunning(readFileSync(main, 'utf8')), `task ${t.Id} runs`);
    await node.kill('SIGKILL');
    await waitFor('every process of the killed node\'s task to be gone', () => [main, a, b].every((f) => !recordedRunning(readFileSync(f, 'utf8'))), 10_000);
  });

  it('refuses to start with a work folder inside shared storage, saying so in one sentence', async () => {
    await node.kill('SIGTERM');
    const inShared = join(cluster.shared, 'Work');
    assert.equal(cuttle(['builtin-worker', '--home', home, '--work-folder', inShared]).code, 0);
    await assert.rejects(startNode(home, 'iso'), new RegExp(`The work folder ${inShared} lies inside shared storage \\(${cluster.shared}\\), which only nodes may write; choose a node-local folder with \`cuttle builtin-worker --work-folder DIR\`\\.`));
    assert.equal(existsSync(inShared), false, 'nothing was created there');
    // In a folder anyone may change (0777, no sticky bit), the work folder could be swapped for a link.
    const open = tempDir('cuttle-open-');
    chmodSync(open, 0o777);
    const inOpen = join(open, 'work');
    assert.equal(cuttle(['builtin-worker', '--home', home, '--work-folder', inOpen]).code, 0);
    await assert.rejects(startNode(home, 'iso'), new RegExp(`The work folder ${inOpen} lies in ${open}, which another user can change \\(owner uid 0, mode 0777\\)`));
    assert.equal(existsSync(inOpen), false, 'nothing was created there');
    assert.equal(cuttle(['builtin-worker', '--home', home, '--work-folder', 'default']).code, 0);
    assert.deepEqual(JSON.parse(readFileSync(join(home, 'builtin-worker.json'), 'utf8')), { username: user.name });
  });
});
