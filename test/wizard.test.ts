import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { generateMasterKey } from '../src/crypto/masterKey.js';
import { ADMIN_PASSWORD, BIN, adminQuery, cuttle, freshDatabase, tempDir } from './helpers.js';

// The wizard needs a terminal. Python's pty module gives the CLI one and answers each prompt only
// once it has been printed, as a person would (answers typed ahead of a prompt would be lost).
const DRIVER = String.raw`
import json, os, pty, select, sys, time
cmd = json.loads(sys.argv[1]); steps = json.loads(sys.argv[2])
pid, fd = pty.fork()
if pid == 0:
    os.execvp(cmd[0], cmd)
out = b''; pos = 0; eof = False
def pump(timeout):
    global out, eof
    r, _, _ = select.select([fd], [], [], timeout)
    if r:
        try: chunk = os.read(fd, 4096)
        except OSError: chunk = b''
        if not chunk: eof = True
        out += chunk
for expect, answer in steps:
    deadline = time.time() + 30
    while expect.encode() not in out[pos:] and not eof and time.time() < deadline: pump(0.2)
    i = out.find(expect.encode(), pos)
    if i < 0: break
    pos = i + len(expect)
    os.write(fd, (answer + '\r').encode())
deadline = time.time() + 60
while not eof and time.time() < deadline: pump(0.2)
_, status = os.waitpid(pid, 0)
print(json.dumps({'code': os.waitstatus_to_exitcode(status), 'output': out.decode('utf8', 'replace')}))
`;

const hasPython = spawnSync('python3', ['-c', 'import pty'], { encoding: 'utf8' }).status === 0;

/** Runs `cuttle <args>` on a pseudo-terminal, answering each [prompt, answer] in turn. */
function onTerminal(args: string[], steps: [string, string][]): { code: number; output: string } {
  const r = spawnSync('python3', ['-c', DRIVER, JSON.stringify([process.execPath, BIN, ...args]), JSON.stringify(steps)], {
    encoding: 'utf8', timeout: 90_000, env: { ...process.env, TERM: 'dumb' },
  });
  assert.equal(r.status, 0, `the terminal driver failed: ${r.stderr}`);
  const parsed = JSON.parse(r.stdout) as { code: number; output: string };
  // The terminal turns \n into \r\n; drop cursor-control sequences so the text reads plainly.
  return { code: parsed.code, output: parsed.output.replace(/\r/g, '').replace(new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*[A-Za-z]`, 'g'), '') };
}

// Clusters here are made by the wizard itself, through the real CLI, on purpose (not `readyCluster`).
describe('the interactive set-up wizard (`cuttle setup` with no flags on a terminal)', { skip: hasPython ? false : 'needs python3 for a pseudo-terminal' }, () => {
  it('creates a new cluster from the answers, without echoing the password, and a second home joins it with the master key', async () => {
    const db = await freshDatabase({ empty: true });
    const root = tempDir();
    const first = join(root, 'first');
    const created = onTerminal(['setup', '--home', first], [
      ['Choose 1 or 2', '1'],
      ['Database URL', db],
      ['Node name', 'wizard-a'],
      ['Listen address', '127.0.0.1:18123'],
      ['Install this node as a system service', ''],
      ['Administrator user name', 'boss'],
      ['Administrator password', ADMIN_PASSWORD],
    ]);
    assert.equal(created.code, 0, created.output);
    assert.match(created.output, /1\) Create a new cluster/);
    assert.match(created.output, /2\) Add this server as a node of an existing cluster/);
    assert.match(created.output, /Created a new Cuttle cluster/);
    assert.ok(!created.output.includes(ADMIN_PASSWORD), 'the password must not be echoed to the terminal');
    const key = /^\s+([A-Za-z0-9+/]{43}=)$/m.exec(created.output)?.[1];
    assert.ok(key, 'the master key is printed');
    assert.equal(cuttle(['show-master-key', '--home', first]).stdout.trim(), key);
    const config = JSON.parse(readFileSync(join(first, 'cuttle.config.json'), 'utf8'));
    assert.equal(config.nodeName, 'wizard-a');
    assert.equal(config.listen, '127.0.0.1:18123');
    assert.equal((await adminQuery('SELECT * FROM cluster', [], db)).rowCount, 1);
    const users = await adminQuery<{ username: string; is_admin: boolean }>('SELECT username, is_admin FROM users', [], db);
    assert.deepEqual(users.rows, [{ username: 'boss', is_admin: true }]);

    const second = join(root, 'second');
    const joined = onTerminal(['setup', '--home', second], [
      ['Choose 1 or 2', '2'],
      ['Database URL', db],
      ['Node name', 'wizard-b'],
      ['Listen address', ''],
      ['Install this node as a system service', 'n'],
      ['Master key of the cluster', key],
    ]);
    assert.equal(joined.code, 0, joined.output);
    assert.match(joined.output, /Node wizard-b joined the cluster/);
    assert.ok(!joined.output.includes(key), 'the master key typed in is not echoed');
    assert.equal(cuttle(['show-master-key', '--home', second]).stdout.trim(), key);
    assert.equal(JSON.parse(readFileSync(join(second, 'cuttle.config.json'), 'utf8')).listen, '0.0.0.0:8080', 'Enter takes the default');
    const nodes = await adminQuery<{ name: string }>('SELECT name FROM nodes ORDER BY name', [], db);
    assert.deepEqual(nodes.rows.map((n) => n.name), ['wizard-a', 'wizard-b']);
  });

  it('refuses a wrong master key when adding a node, and writes nothing', async () => {
    const db = await freshDatabase({ empty: true });
    const root = tempDir();
    const made = cuttle(['setup', '--home', join(root, 'a'), '--database', db, '--admin-username', 'admin', '--admin-password', ADMIN_PASSWORD, '--node-name', 'a']);
    assert.equal(made.code, 0, made.stderr);
    const home = join(root, 'b');
    const r = onTerminal(['setup', '--home', home], [
      ['Choose 1 or 2', '2'],
      ['Database URL', db],
      ['Node name', 'b'],
      ['Listen address', ''],
      ['Install this node as a system service', ''],
      ['Master key of the cluster', generateMasterKey()],
    ]);
    assert.equal(r.code, 1, r.output);
    assert.match(r.output, /cuttle: The master key does not match this cluster/);
    assert.ok(!existsSync(home), 'no home was created');
    assert.equal((await adminQuery('SELECT * FROM nodes', [], db)).rowCount, 1);
  });

  it('asks which account the service runs as, and where it cannot be installed says so and how to install it later, the cluster made and joined', { skip: process.getuid?.() === 0 && existsSync('/run/systemd/system') ? 'root on a machine that runs systemd: it would install a real service' : false }, async () => {
    const db = await freshDatabase({ empty: true });
    const root = tempDir();
    const home = join(root, 'svc');
    // Not root: refused first; root without systemd (this container): refused for that.
    const refusal = process.getuid?.() !== 0
      ? /`cuttle service --install` must run as root \(it manages a systemd unit and hands the home to the service account\); run it again with sudo\./
      : /systemd is not running on this machine \(a container\?\), so no service was installed; run the node under the container's own supervisor instead: `cuttle run --home \//;
    const r = onTerminal(['setup', '--home', home], [
      ['Choose 1 or 2', '1'],
      ['Database URL', db],
      ['Node name', 'wizard-svc'],
      ['Listen address', ''],
      ['Install this node as a system service', 'y'],
      ['Service account', 'cuttle-wizard'],
      ['Administrator user name', ''],
      ['Administrator password', ADMIN_PASSWORD],
    ]);
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /Created a new Cuttle cluster/);
    assert.match(r.output, refusal);
    assert.ok(r.output.includes(`Install the service later with: cuttle service --install --user cuttle-wizard --create-user --start --home ${home}`), r.output);
    assert.doesNotMatch(r.output, /\[Service\]/, 'the wizard does not dump the unit');
    assert.equal((await adminQuery('SELECT * FROM cluster', [], db)).rowCount, 1, 'the cluster was made');
    assert.equal(spawnSync('id', ['cuttle-wizard']).status, 1, 'no account was created for a service that was not installed');

    // Adding a node asks the same, and Enter takes the default account, cuttle.
    const key = cuttle(['show-master-key', '--home', home]).stdout.trim();
    const second = join(root, 'svc-b');
    const joined = onTerminal(['setup', '--home', second], [
      ['Choose 1 or 2', '2'],
      ['Database URL', db],
      ['Node name', 'wizard-svc-b'],
      ['Listen address', '127.0.0.1:18124'],
      ['Install this node as a system service', 'yes'],
      ['Service account (created as a system account when missing) [cuttle]', ''],
      ['Master key of the cluster', key],
    ]);
    assert.equal(joined.code, 0, joined.output);
    assert.match(joined.output, /Node wizard-svc-b joined the cluster\.\n/);
    assert.match(joined.output, refusal);
    assert.ok(joined.output.includes(`Install the service later with: cuttle service --install --user cuttle --create-user --start --home ${second}`), joined.output);
    assert.ok(joined.output.includes(`Until then, start the node with: cuttle run --home ${second}`), joined.output);
    const nodes = await adminQuery<{ name: string }>('SELECT name FROM nodes ORDER BY name', [], db);
    assert.deepEqual(nodes.rows.map((n) => n.name), ['wizard-svc', 'wizard-svc-b']);
  });

  it('refuses a choice other than 1 or 2 as a usage error', () => {
    const home = join(tempDir(), 'home');
    const r = onTerminal(['setup', '--home', home], [['Choose 1 or 2', '3']]);
    assert.equal(r.code, 2, r.output);
    assert.match(r.output, /"3" is not 1 or 2/);
    assert.ok(!existsSync(home));
  });

  it('does not start the wizard without a terminal: it asks for the flags instead (exit 2)', () => {
    const home = join(tempDir(), 'home');
    const r = cuttle(['setup', '--home', home], {}, '1\n');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^cuttle: setup needs --database, --admin-username, --admin-password/);
    assert.ok(!existsSync(home));
  });
});
