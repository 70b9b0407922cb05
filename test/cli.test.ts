import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { freePort } from '../src/db/embedded.js';
import { generateMasterKey } from '../src/crypto/masterKey.js';
import {
  ADMIN_API_KEY, ADMIN_PASSWORD, adminQuery, api, createCluster, cuttle, freshDatabase, makeReadOnly, must, startNode, tempDir,
  type CliResult, type NodeProcess, type TestCluster,
} from './helpers.js';

// Every cluster here is built through the real CLI (`createCluster`) on purpose: these tests are
// about the commands themselves. Tests that only need a cluster use `readyCluster`.

// ---- what "nothing was written" means, checked from outside ----

/** A home that did not exist before a refused command still does not: no folder, no config file, no key. */
function assertHomeUntouched(home: string): void {
  assert.ok(!existsSync(home), `${home} should not have been created, but holds: ${existsSync(home) ? readdirSync(home).join(', ') || '(empty)' : ''}`);
}

async function tablesOf(url: string): Promise<string[]> {
  const r = await adminQuery<{ t: string }>(`SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`, [], url);
  return r.rows.map((x) => x.t);
}

async function countRows(url: string, table: string): Promise<number> {
  const r = await adminQuery<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`, [], url);
  return r.rows[0]!.n;
}

/** A one-sentence error on stderr that starts with "cuttle: " and matches what it must name. */
function assertFailure(r: CliResult, code: number, ...mentions: RegExp[]): void {
  assert.equal(r.code, code, `exit code (stderr: ${r.stderr}, stdout: ${r.stdout})`);
  assert.match(r.stderr, /^cuttle: /, r.stderr);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  for (const m of mentions) assert.match(r.stderr, m);
}

function setupArgs(home: string, db: string, name = 'first'): string[] {
  return ['setup', '--home', home, '--database', db, '--admin-username', 'admin', '--admin-password', ADMIN_PASSWORD, '--node-name', name, '--listen', '127.0.0.1:1'];
}

function joinArgs(home: string, db: string, key: string, name: string): string[] {
  return ['join', '--home', home, '--database', db, '--master-key', key, '--node-name', name];
}

async function summaryNode(base: string, name: string): Promise<any> {
  const r = await api(base, '/api/octopusservernodes/summary', { apiKey: ADMIN_API_KEY });
  assert.equal(r.status, 200);
  return (r.body.Nodes as any[]).find((n) => n.Name === name);
}

function currentPaths(home: string): Record<string, string | null> {
  return JSON.parse(must(cuttle(['path', '--home', home, '--format', 'json'])).stdout);
}

describe('setup and join refuse bad input and leave nothing behind', () => {
  it('refuses an unreachable database, naming it and what to check', () => {
    const home = join(tempDir(), 'home');
    assertFailure(cuttle(setupArgs(home, 'postgres://x@127.0.0.1:1/db')), 1, /127\.0\.0\.1:1/, /PostgreSQL is running|host and port/);
    assertHomeUntouched(home);
    assertFailure(cuttle(joinArgs(home, 'postgres://x@127.0.0.1:1/db', generateMasterKey(), 'n1')), 1, /127\.0\.0\.1:1/);
    assertHomeUntouched(home);
  });

  it('refuses a wrong database password without showing it, and writes nothing', async (t) => {
    const db = await freshDatabase({ empty: true });
    const u = new URL(db);
    u.password = 'wrong-password-123';
    const probe = new pg.Client({ connectionString: u.toString() });
    probe.on('error', () => undefined);
    const connects = await probe.connect().then(() => true, () => false);
    await probe.end().catch(() => undefined);
    if (connects) {
      t.skip('this PostgreSQL server does not check passwords (trust authentication)');
      return;
    }
    const home = join(tempDir(), 'home');
    const r = cuttle(setupArgs(home, u.toString()));
    assertFailure(r, 1, /refused the login/, /password/);
    assert.doesNotMatch(r.stderr, /wrong-password-123/, 'the password must not be printed');
    assertHomeUntouched(home);
    assert.deepEqual(await tablesOf(db), []);
  });

  it("refuses a database of another application, naming its tables, and adds none of Cuttle's", async () => {
    const db = await freshDatabase({ empty: true });
    await adminQuery('CREATE TABLE orders (id int PRIMARY KEY)', [], db);
    const home = join(tempDir(), 'home');
    assertFailure(cuttle(setupArgs(home, db)), 1, /another application/, /orders/, /empty database/);
    assertHomeUntouched(home);
    assertFailure(cuttle(joinArgs(home, db, generateMasterKey(), 'n1')), 1, /another application/);
    assertHomeUntouched(home);
    assert.deepEqual(await tablesOf(db), ['orders']);
  });

  it('refuses join against an empty database, telling you to set up a cluster first', async () => {
    const db = await freshDatabase({ empty: true });
    const home = join(tempDir(), 'home');
    assertFailure(cuttle(joinArgs(home, db, generateMasterKey(), 'n1')), 1, /no Cuttle cluster/, /cuttle setup/);
    assertHomeUntouched(home);
    assert.deepEqual(await tablesOf(db), []);
  });

  describe('against a database that holds a cluster', () => {
    let c: TestCluster;
    before(async () => { c = await createCluster(['first']); });

    it('refuses setup, telling you to join instead', async () => {
      const home = join(tempDir(), 'home');
      assertFailure(cuttle(setupArgs(home, c.databaseUrl, 'second')), 1, /already holds a Cuttle cluster/, /cuttle join/);
      assertHomeUntouched(home);
      assert.equal(await countRows(c.databaseUrl, 'cluster'), 1);
      assert.equal(await countRows(c.databaseUrl, 'nodes'), 1);
      assert.equal(await countRows(c.databaseUrl, 'users'), 1);
    });

    it('refuses join with a malformed master key as a usage error (exit 2)', async () => {
      const home = join(tempDir(), 'home');
      for (const bad of ['not-a-key!', Buffer.alloc(16, 1).toString('base64'), c.masterKey.slice(0, -4)]) {
        assertFailure(cuttle(joinArgs(home, c.databaseUrl, bad, 'second')), 2, /master key/);
        assertHomeUntouched(home);
      }
      assert.equal(await countRows(c.databaseUrl, 'nodes'), 1);
    });

    it('refuses join with a well-formed wrong master key (exit 1) and writes nothing', async () => {
      const home = join(tempDir(), 'home');
      assertFailure(cuttle(joinArgs(home, c.databaseUrl, generateMasterKey(), 'second')), 1, /master key does not match/, /show-master-key/);
      assertHomeUntouched(home);
      assert.equal(await countRows(c.databaseUrl, 'nodes'), 1);
    });

    it('refuses a second setup or join into a home that already belongs to a node', async () => {
      const before = readFileSync(join(c.homes[0]!, 'cuttle.config.json'), 'utf8');
      assertFailure(cuttle(joinArgs(c.homes[0]!, c.databaseUrl, c.masterKey, 'second')), 1, /already belongs to a Cuttle node/);
      assert.equal(readFileSync(join(c.homes[0]!, 'cuttle.config.json'), 'utf8'), before);
      assert.equal(await countRows(c.databaseUrl, 'nodes'), 1);
    });
  });

  it('treats missing or malformed flags as usage errors (exit 2) and writes nothing', async () => {
    const db = await freshDatabase({ empty: true });
    const home = join(tempDir(), 'home');
    assertFailure(cuttle(['setup', '--home', home, '--database', db]), 2, /--admin-username/, /--admin-password/);
    assertFailure(cuttle([...setupArgs(home, db), '--node-name', 'bad name!']), 2, /node name/);
    assertFailure(cuttle([...setupArgs(home, db), '--listen', 'nowhere']), 2, /listen address/);
    assertFailure(cuttle(['setup', '--home', home, '--database', db, '--admin-username', 'admin', '--admin-password', 'short']), 2, /password/);
    assertFailure(cuttle([...setupArgs(home, db), '--master-key', 'abc']), 2, /master key/);
    assertHomeUntouched(home);
    assert.deepEqual(await tablesOf(db), []);
  });
});

describe('one live node per home and per node name', () => {
  let c: TestCluster;
  let alpha: NodeProcess;
  before(async () => {
    c = await createCluster(['alpha', 'beta']);
    alpha = await startNode(c.homes[0]!, 'alpha');
  });
  after(async () => { await alpha.kill('SIGTERM'); });

  async function assertAlphaUnaffected(epoch: number): Promise<void> {
    assert.equal((await api(alpha.url, '/api/octopusservernodes/ping')).status, 200);
    const d = await api(alpha.url, '/api/octopusservernodes/OctopusServerNodes-alpha/details', { apiKey: ADMIN_API_KEY });
    assert.equal(d.body.IsOffline, false);
    assert.equal(d.body.Epoch, epoch, 'alpha must not have been restarted or fenced');
    assert.equal(alpha.child.exitCode, null);
  }

  async function alphaEpoch(): Promise<number> {
    return (await api(alpha.url, '/api/octopusservernodes/OctopusServerNodes-alpha/details', { apiKey: ADMIN_API_KEY })).body.Epoch;
  }

  it('refuses a second `cuttle run` on the home of a running node, and the first keeps running', async () => {
    const epoch = await alphaEpoch();
    const r = cuttle(['run', '--home', c.homes[0]!], { CUTTLE_LISTEN: `127.0.0.1:${await freePort()}` });
    assertFailure(r, 1, /already used by a running Cuttle node/, new RegExp(`pid ${alpha.child.pid}`), /--home/);
    assert.equal(readFileSync(join(c.homes[0]!, 'node.lock'), 'utf8').trim(), String(alpha.child.pid), 'the lock stays with the first node');
    await assertAlphaUnaffected(epoch);
  });

  it('refuses join with the name of a live node, and writes nothing', async () => {
    const home = join(tempDir(), 'home');
    assertFailure(cuttle(joinArgs(home, c.databaseUrl, c.masterKey, 'alpha')), 1, /live node named "alpha"/, /--node-name/);
    assertHomeUntouched(home);
    assert.equal(await countRows(c.databaseUrl, 'nodes'), 2);
  });

  it('refuses to run a second home configured with the name of a running node, and the first keeps running', async () => {
    // Both joins succeed (no gamma runs yet); only one of them may run at a time.
    const root = tempDir();
    const [x, y] = [join(root, 'x'), join(root, 'y')];
    must(cuttle(joinArgs(x, c.databaseUrl, c.masterKey, 'gamma')));
    must(cuttle(joinArgs(y, c.databaseUrl, c.masterKey, 'gamma')));
    const gamma = await startNode(x, 'gamma');
    try {
      const before = await summaryNode(alpha.url, 'gamma');
      assert.equal(before.IsOffline, false);
      const r = cuttle(['run', '--home', y], { CUTTLE_LISTEN: `127.0.0.1:${await freePort()}` });
      assertFailure(r, 1, /already node "gamma"/, /--node-name/);
      const after = await summaryNode(alpha.url, 'gamma');
      assert.equal(after.IsOffline, false);
      assert.equal(after.StartedAt, before.StartedAt, 'the running gamma must not be replaced');
      assert.equal(after.ListenUrl, gamma.url);
      assert.equal((await api(gamma.url, '/api/octopusservernodes/ping')).status, 200);
      assert.equal(gamma.child.exitCode, null);
    } finally {
      await gamma.kill('SIGTERM');
    }
  });

  it('refuses a port already in use, naming the address, and leaves the node offline', async () => {
    const busy: Server = createServer();
    const port = await freePort();
    await new Promise<void>((r) => busy.listen(port, '127.0.0.1', r));
    try {
      const r = cuttle(['run', '--home', c.homes[1]!], { CUTTLE_LISTEN: `127.0.0.1:${port}` });
      assertFailure(r, 1, new RegExp(`127\\.0\\.0\\.1:${port}`), /already in use/, /--listen/);
    } finally {
      await new Promise((r) => busy.close(r));
    }
    const beta = await summaryNode(alpha.url, 'beta');
    assert.equal(beta.IsOffline, true);
    assert.equal(beta.StartedAt, null, 'beta never started');
    assert.ok(!existsSync(join(c.homes[1]!, 'node.lock')), 'the refused node releases its home');
  });

  it('starts a node again on its home after it was killed with SIGKILL (the stale lock is replaced)', async () => {
    const first = await startNode(c.homes[1]!, 'beta');
    await first.kill('SIGKILL');
    assert.equal(readFileSync(join(c.homes[1]!, 'node.lock'), 'utf8').trim(), String(first.child.pid), 'a killed node leaves its lock file');
    const again = await startNode(c.homes[1]!, 'beta');
    try {
      assert.equal((await summaryNode(alpha.url, 'beta')).IsOffline, false);
      assert.equal(readFileSync(join(c.homes[1]!, 'node.lock'), 'utf8').trim(), String(again.child.pid));
    } finally {
      assert.equal(await again.kill('SIGTERM'), 0);
    }
    assert.ok(!existsSync(join(c.homes[1]!, 'node.lock')), 'a clean stop removes the lock');
  });

  it('`admin` creates an administrator whose API key works at once, and refuses bad input with exit 2', async () => {
    const [users, keys] = [await countRows(c.databaseUrl, 'users'), await countRows(c.databaseUrl, 'api_keys')];
    assertFailure(cuttle(['admin', '--home', c.homes[0]!, '--username', 'ops', '--api-key', 'not-a-key']), 2, /--api-key must look like API-/);
    assertFailure(cuttle(['admin', '--home', c.homes[0]!, '--username', 'ops']), 2, /no user "ops" yet/, /--password/);
    assertFailure(cuttle(['admin', '--home', c.homes[0]!, '--username', 'ops', '--password', 'short']), 2, /8 to 1024 characters/);
    assertFailure(cuttle(['admin', '--home', c.homes[0]!, '--username', 'bad name', '--password', ADMIN_PASSWORD]), 2, /user name/);
    assertFailure(cuttle(['admin', '--home', c.homes[0]!, '--username', 'ops', '--password', ADMIN_PASSWORD, '--api-key', ADMIN_API_KEY]), 2, /already registered to another user/);
    assert.equal(await countRows(c.databaseUrl, 'users'), users, 'no user was created by a refused command');
    assert.equal(await countRows(c.databaseUrl, 'api_keys'), keys);
    const key = 'API-OPSKEY000000000000000000001';
    const r = must(cuttle(['admin', '--home', c.homes[0]!, '--username', 'ops', '--password', ADMIN_PASSWORD, '--api-key', key]));
    assert.match(r.stdout, /Created administrator ops/);
    const me = await api(alpha.url, '/api/users/me', { apiKey: key });
    assert.equal(me.status, 200);
    assert.equal(me.body.Username, 'ops');
    assert.equal((await api(alpha.url, '/api/users/login', { body: { Username: 'ops', Password: ADMIN_PASSWORD } })).status, 200);
  });

  it('prints the master key the same way as text and as JSON', () => {
    const text = must(cuttle(['show-master-key', '--home', c.homes[1]!])).stdout.trim();
    const json = JSON.parse(must(cuttle(['show-master-key', '--home', c.homes[1]!, '--format', 'json'])).stdout);
    assert.equal(text, c.masterKey);
    assert.equal(json.MasterKey, text);
    assert.equal(Buffer.from(text, 'base64').length, 32);
    assertFailure(cuttle(['show-master-key', '--home', c.homes[1]!, '--format', 'xml']), 2, /text or json/);
  });

  it('says the schema is already up to date on `database --upgrade`', async () => {
    const before = await countRows(c.databaseUrl, 'schema_migrations');
    const r = must(cuttle(['database', '--home', c.homes[0]!, '--upgrade']));
    assert.match(r.stdout, /already at version \d+/);
    assert.equal(await countRows(c.databaseUrl, 'schema_migrations'), before);
    assertFailure(cuttle(['database', '--home', c.homes[0]!]), 2, /--upgrade/);
  });

  it('`doctor` on a healthy node exits 0 and prints each finding', () => {
    const r = cuttle(['doctor', '--home', c.homes[0]!]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^ok\s+database reachable/m);
    assert.match(r.stdout, /^ok\s+schema version \d+/m);
    assert.match(r.stdout, /^ok\s+master key matches the cluster/m);
    for (const f of ['Artifacts', 'TaskLogs', 'Packages', 'Telemetry', 'EventExports', 'Imports']) {
      assert.match(r.stdout, new RegExp(`^ok\\s+${f} \\S+ is readable and writable`, 'm'));
    }
    assert.doesNotMatch(r.stdout, /^FAIL/m);
    assert.match(r.stdout, /No problems found/);
  });

  it('`doctor` exits 1 naming the problem when the home holds another master key', () => {
    const home = join(tempDir(), 'home');
    must(cuttle(joinArgs(home, c.databaseUrl, c.masterKey, 'delta')));
    writeFileSync(join(home, 'master.key'), generateMasterKey() + '\n', { mode: 0o600 });
    const r = cuttle(['doctor', '--home', home]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /^FAIL\s+The master key does not match this cluster/m);
    assert.match(r.stdout, /1 problem\(s\) found/);
    // The same home cannot run either.
    assertFailure(cuttle(['run', '--home', home], { CUTTLE_LISTEN: '127.0.0.1:1' }), 1, /master key does not match/);
  });

  it('names a damaged master.key file (exit 1, not a usage error) in every command that reads it', () => {
    const home = join(tempDir(), 'home');
    must(cuttle(joinArgs(home, c.databaseUrl, c.masterKey, 'epsilon')));
    const file = join(home, 'master.key');
    writeFileSync(file, 'this is not a key\n', { mode: 0o600 });
    const damaged = new RegExp(`master key file ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} does not hold a valid key`);
    for (const cmd of ['run', 'nodes', 'show-master-key', 'path']) {
      assertFailure(cuttle([cmd, '--home', home], { CUTTLE_LISTEN: '127.0.0.1:1' }), 1, damaged, /show-master-key/);
    }
    const d = cuttle(['doctor', '--home', home]);
    assert.equal(d.code, 1);
    assert.match(d.stdout, /^FAIL\s+The master key file .* does not hold a valid key/m);
  });
});

describe('shared storage locations', () => {
  let c: TestCluster;
  const cleanups: (() => void)[] = [];
  before(async () => { c = await createCluster(['s1', 's2']); });
  after(() => { for (const f of cleanups.reverse()) f(); });

  it('accepts the Octopus spellings --clusterShared, --taskLogs, --nugetRepository and --eventExports', () => {
    const root = tempDir();
    const [logs, pkgs, exp] = ['logs', 'pkgs', 'exports'].map((d) => { const p = join(root, d); mkdirSync(p); return p; }) as [string, string, string];
    must(cuttle(['path', '--home', c.homes[0]!, `--clusterShared=${root}`, '--taskLogs', logs, '--nugetRepository', pkgs, '--eventExports', exp]));
    const p = currentPaths(c.homes[1]!);
    assert.deepEqual(p, {
      ClusterShared: root, Artifacts: join(root, 'Artifacts'), TaskLogs: logs, Packages: pkgs,
      Telemetry: join(root, 'Telemetry'), EventExports: exp, Imports: join(root, 'Imports'),
    });
    must(cuttle(['path', '--home', c.homes[0]!, '--clusterShared', c.shared]));
    assert.equal(currentPaths(c.homes[0]!).TaskLogs, join(c.shared, 'TaskLogs'), '--cluster-shared alone resets every folder under it');
  });

  it('refuses a shared folder that does not exist, and keeps the stored locations', () => {
    const before = currentPaths(c.homes[0]!);
    assertFailure(cuttle(['path', '--home', c.homes[0]!, '--cluster-shared', '/nonexistent/cuttle-shared']), 1, /\/nonexistent\/cuttle-shared does not exist/, /create or mount/);
    assertFailure(cuttle(['path', '--home', c.homes[0]!, '--artifacts', '/nonexistent/artifacts']), 1, /\/nonexistent\/artifacts/);
    assertFailure(cuttle(['path', '--home', c.homes[0]!, '--cluster-shared', 'relative/dir']), 2, /absolute path/);
    assert.deepEqual(currentPaths(c.homes[0]!), before);
  });

  it('refuses shared storage that contains this node\'s home, and creates nothing in the home', () => {
    const before = currentPaths(c.homes[0]!);
    const homeBefore = readdirSync(c.homes[0]!).sort();
    const rootBefore = readdirSync(c.root).sort();
    assertFailure(cuttle(['path', '--home', c.homes[0]!, '--cluster-shared', c.root]), 1, /home/, /inside/);
    assertFailure(cuttle(['path', '--home', c.homes[0]!, '--cluster-shared', c.homes[0]!]), 1, /home/, /inside/);
    assertFailure(cuttle(['path', '--home', c.homes[0]!, '--task-logs', c.homes[0]!]), 1, /home/, /inside/);
    assert.deepEqual(currentPaths(c.homes[0]!), before);
    assert.deepEqual(readdirSync(c.homes[0]!).sort(), homeBefore);
    assert.deepEqual(readdirSync(c.root).sort(), rootBefore);
  });

  it('refuses to join, or to run, a node whose home lies inside shared storage', async () => {
    const refused = join(currentPaths(c.homes[0]!).ClusterShared!, 'node-home');
    assertFailure(cuttle(joinArgs(refused, c.databaseUrl, c.masterKey, 'inside')), 1, /lies inside the cluster's shared storage/, /--home/);
    assert.equal(existsSync(refused), false);
    // A home that only later ends up inside shared storage (the cluster's paths moved) is refused at run.
    const before = currentPaths(c.homes[0]!);
    const root = tempDir('cuttle-later-shared-');
    const home = join(root, 'node-home');
    must(cuttle(joinArgs(home, c.databaseUrl, c.masterKey, 'inside')));
    must(cuttle(['path', '--home', c.homes[0]!, '--cluster-shared', root]));
    const r = cuttle(['run', '--home', home], { CUTTLE_LISTEN: `127.0.0.1:${await freePort()}` });
    must(cuttle(['path', '--home', c.homes[0]!, '--cluster-shared', before.ClusterShared!]));
    assertFailure(r, 1, /lies inside shared storage/, /--home/);
    const n = JSON.parse(must(cuttle(['nodes', '--home', c.homes[0]!, '--format', 'json'])).stdout).find((x: any) => x.Name === 'inside');
    assert.equal(n.IsOffline, true);
  });

  it('refuses a read-only shared folder in `cuttle path`, and keeps the stored locations', () => {
    const before = currentPaths(c.homes[0]!);
    const ro = tempDir('cuttle-ro-');
    cleanups.push(makeReadOnly(ro));
    assertFailure(cuttle(['path', '--home', c.homes[0]!, '--cluster-shared', ro]), 1, /Shared storage not changed/, /read-only|not writable|EROFS|permission/i);
    assertFailure(cuttle(['path', '--home', c.homes[0]!, '--artifacts', ro]), 1, /not writable/);
    assert.deepEqual(currentPaths(c.homes[0]!), before);
  });

  it('refuses to run a node when a shared folder has become read-only', async () => {
    const dir = tempDir('cuttle-later-ro-');
    must(cuttle(['path', '--home', c.homes[0]!, '--cluster-shared', dir]));
    cleanups.push(makeReadOnly(dir));
    const r = cuttle(['run', '--home', c.homes[1]!], { CUTTLE_LISTEN: `127.0.0.1:${await freePort()}` });
    assertFailure(r, 1, /Shared storage is not usable/, /not writable/, new RegExp(dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    const n = JSON.parse(must(cuttle(['nodes', '--home', c.homes[0]!, '--format', 'json'])).stdout).find((x: any) => x.Name === 's2');
    assert.equal(n.IsOffline, true);
    assert.equal(n.StartedAt, null);
  });
});

describe('the command line itself', () => {
  const commands = ['start', 'setup', 'join', 'run', 'path', 'show-master-key', 'node', 'nodes', 'admin', 'database', 'doctor'];

  it('prints --help for every command and exits 0', () => {
    const top = cuttle(['--help']);
    assert.equal(top.code, 0);
    for (const cmd of commands) assert.match(top.stdout, new RegExp(`^\\s+${cmd}\\b`, 'm'), `cuttle --help lists ${cmd}`);
    for (const cmd of commands) {
      const r = cuttle([cmd, '--help']);
      assert.equal(r.code, 0, `${cmd} --help: ${r.stderr}`);
      assert.match(r.stdout, new RegExp(`^Usage: cuttle ${cmd}`, 'm'));
      assert.match(r.stdout, /--home <dir>/);
    }
  });

  it('exits 2 on an unknown flag or command, naming it', () => {
    const flag = cuttle(['nodes', '--no-such-flag']);
    assert.equal(flag.code, 2);
    assert.match(flag.stderr, /unknown option '--no-such-flag'/);
    const cmd = cuttle(['frobnicate']);
    assert.equal(cmd.code, 2);
    assert.match(cmd.stderr, /unknown command 'frobnicate'/);
    assert.equal(cuttle(['node', '--task-cap', 'lots']).code, 2);
    assert.equal(cuttle(['node', '--drain', 'maybe']).code, 2);
  });

  it('tells you which home is missing when a command needs a configured home', () => {
    const home = join(tempDir(), 'nothing-here');
    for (const cmd of ['run', 'nodes', 'path', 'show-master-key']) {
      assertFailure(cuttle([cmd, '--home', home], { CUTTLE_LISTEN: '127.0.0.1:1' }), 1, /not a Cuttle home|No master key/, /cuttle (setup|join)/);
    }
    assertHomeUntouched(home);
  });
});
