import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../src/db/embedded.js';
import { generateMasterKey } from '../src/crypto/masterKey.js';
import { ADMIN_PASSWORD, adminQuery, api, readyCluster, cuttle, freshDatabase, startNode, tempDir, waitFor, type NodeProcess } from './helpers.js';

const MIGRATIONS = readdirSync(fileURLToPath(new URL('../../migrations/', import.meta.url))).filter((f) => /^\d{3}_.+\.sql$/.test(f)).sort();

async function rows<T extends Record<string, unknown>>(url: string, sql: string): Promise<T[]> {
  return (await adminQuery<T>(sql, [], url)).rows;
}

describe('eight container-style nodes started at the same instant on an empty database', () => {
  const names = ['c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7', 'c8'];
  let db: string;
  let shared: string;
  let root: string;
  let masterKey: string;
  let nodes: NodeProcess[];

  /** The environment of a container; `key: null` leaves CUTTLE_MASTER_KEY out. */
  function containerEnv(name: string, port: number, key: string | null = masterKey): NodeJS.ProcessEnv {
    return {
      CUTTLE_DATABASE_URL: db, CUTTLE_NODE_NAME: name, CUTTLE_LISTEN: `127.0.0.1:${port}`, CUTTLE_CLUSTER_SHARED: shared,
      CUTTLE_ADMIN_PASSWORD: ADMIN_PASSWORD, ...(key === null ? {} : { CUTTLE_MASTER_KEY: key }),
    };
  }

  before(async () => {
    db = await freshDatabase({ empty: true });
    root = tempDir('cuttle-containers-');
    shared = tempDir('cuttle-containers-shared-');
    masterKey = generateMasterKey();
    const ports = await Promise.all(names.map(() => freePort()));
    // Every process is spawned before any is awaited: they race for the migration and the cluster row.
    nodes = await Promise.all(names.map((n, i) => startNode(join(root, n), n, containerEnv(n, ports[i]!), ports[i])));
  });
  after(async () => { await Promise.all(nodes.map((n) => n.kill('SIGTERM'))); });

  it('applies every migration exactly once and creates exactly one cluster and one administrator', async () => {
    const applied = await rows<{ version: number; name: string }>(db, 'SELECT version, name FROM schema_migrations ORDER BY version');
    assert.deepEqual(applied.map((r) => `${r.name}.sql`), MIGRATIONS);
    assert.equal((await rows(db, 'SELECT * FROM cluster')).length, 1);
    assert.equal((await rows(db, 'SELECT * FROM users')).length, 1);
    assert.equal((await rows(db, 'SELECT * FROM nodes')).length, 8);
    const creators = nodes.filter((n) => n.output().includes('Created a new Cuttle cluster'));
    assert.equal(creators.length, 1, 'exactly one container created the cluster; the others joined it');
  });

  it('shows all eight nodes online on every node', async () => {
    const login = await api(nodes[0]!.url, '/api/users/login', { body: { Username: 'admin', Password: ADMIN_PASSWORD } });
    assert.equal(login.status, 200, 'CUTTLE_ADMIN_PASSWORD set the administrator password');
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    for (const n of nodes) {
      await waitFor(`${n.name} to list eight online nodes`, async () => {
        const r = await api(n.url, '/api/octopusservernodes/summary', { cookie });
        assert.equal(r.status, 200);
        const listed = r.body.Nodes as any[];
        return listed.length === 8 && listed.every((x) => !x.IsOffline);
      }, 10_000);
    }
    const r = await api(nodes[7]!.url, '/api/octopusservernodes/summary', { cookie });
    assert.deepEqual((r.body.Nodes as any[]).map((x) => x.Name).sort(), names);
  });

  it('gives every container the same master key and its own node-local home', () => {
    for (const n of nodes) {
      const k = cuttle(['show-master-key', '--home', n.home]);
      assert.equal(k.code, 0, k.stderr);
      assert.equal(k.stdout.trim(), masterKey);
      assert.equal(JSON.parse(readFileSync(join(n.home, 'cuttle.config.json'), 'utf8')).nodeName, n.name, `${n.home} is ${n.name}'s own`);
      assert.ok(!n.home.startsWith(shared + '/'), 'the home is outside the shared folder');
    }
    assert.equal(new Set(nodes.map((n) => n.home)).size, names.length, 'eight different homes');
  });

  it('brings a stopped container back with the same environment and home', async () => {
    const n = nodes[3]!;
    assert.equal(await n.kill('SIGTERM'), 0);
    const port = await freePort();
    nodes[3] = await startNode(n.home, n.name, containerEnv(n.name, port), port);
    assert.equal((await rows(db, 'SELECT * FROM nodes')).length, 8);
    assert.equal((await rows(db, 'SELECT * FROM cluster')).length, 1);
  });

  it('refuses a container without CUTTLE_MASTER_KEY against the existing cluster, naming the variable, and writes nothing', async () => {
    const home = join(tempDir(), 'home');
    const r = cuttle(['run', '--home', home], containerEnv('c9', await freePort(), null));
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^cuttle: .*CUTTLE_MASTER_KEY.*show-master-key/);
    assert.ok(!existsSync(home), 'no home was created');
    assert.equal((await rows(db, 'SELECT * FROM nodes')).length, 8);
  });

  it('refuses a container with a wrong or malformed CUTTLE_MASTER_KEY, and writes nothing', async () => {
    const home = join(tempDir(), 'home');
    const wrong = cuttle(['run', '--home', home], containerEnv('c9', await freePort(), generateMasterKey()));
    assert.equal(wrong.code, 1, wrong.stderr);
    assert.match(wrong.stderr, /^cuttle: The master key does not match this cluster/);
    const malformed = cuttle(['run', '--home', home], containerEnv('c9', await freePort(), 'not-a-key'));
    assert.equal(malformed.code, 2, malformed.stderr);
    assert.match(malformed.stderr, /^cuttle: The master key is not base64/);
    assert.ok(!existsSync(home), 'no home was created');
    assert.equal((await rows(db, 'SELECT * FROM nodes')).length, 8);
  });
});

describe('a schema newer than this Cuttle', () => {
  it('is refused by run, join, upgrade and container start, with a message saying to upgrade Cuttle', async () => {
    const c = await readyCluster(['older', 'other']);
    await adminQuery(`INSERT INTO schema_migrations (version, name) VALUES (999, '999_from_the_future')`, [], c.databaseUrl);
    const expect = (what: string, r: { code: number; stderr: string }) => {
      assert.equal(r.code, 1, `${what}: ${r.stderr}`);
      assert.match(r.stderr, /^cuttle: The database schema is at version 999 but this Cuttle only knows up to version \d+; upgrade this node/, what);
    };
    expect('run', cuttle(['run', '--home', c.homes[0]!], { CUTTLE_LISTEN: `127.0.0.1:${await freePort()}` }));
    const home = join(tempDir(), 'home');
    expect('join', cuttle(['join', '--home', home, '--database', c.databaseUrl, '--master-key', c.masterKey, '--node-name', 'late']));
    assert.ok(!existsSync(home));
    expect('database --upgrade', cuttle(['database', '--home', c.homes[1]!, '--upgrade']));
    expect('container run', cuttle(['run', '--home', home], { CUTTLE_DATABASE_URL: c.databaseUrl, CUTTLE_MASTER_KEY: c.masterKey, CUTTLE_NODE_NAME: 'late', CUTTLE_LISTEN: `127.0.0.1:${await freePort()}` }));
    const doctor = cuttle(['doctor', '--home', c.homes[1]!]);
    assert.equal(doctor.code, 1);
    assert.match(doctor.stdout, /^FAIL\s+schema version 999 .*upgrade/m);
    const nodes = await adminQuery<{ started_at: Date | null }>('SELECT started_at FROM nodes', [], c.databaseUrl);
    assert.equal(nodes.rowCount, 2, 'no node was added');
    assert.ok(nodes.rows.every((n) => n.started_at === null), 'no node started');
    const versions = await adminQuery<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version', [], c.databaseUrl);
    assert.deepEqual(versions.rows.map((r) => r.version), [...MIGRATIONS.map((f) => Number(f.slice(0, 3))), 999], 'nothing was migrated');
  });
});

describe('a container whose CUTTLE_CLUSTER_SHARED is not usable', () => {
  it('is refused before the cluster is created, naming the folder, and writes nothing', async () => {
    const db = await freshDatabase({ empty: true });
    const home = join(tempDir(), 'home');
    const missing = join(tempDir(), 'not-mounted');
    const r = cuttle(['run', '--home', home], {
      CUTTLE_DATABASE_URL: db, CUTTLE_NODE_NAME: 'first', CUTTLE_LISTEN: `127.0.0.1:${await freePort()}`, CUTTLE_CLUSTER_SHARED: missing,
    });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`^cuttle: The shared folder ${missing} does not exist; create or mount it`));
    assert.doesNotMatch(r.stderr, /Administrator:|Created a new Cuttle cluster/);
    assert.ok(!existsSync(home), 'no home was created');
    assert.deepEqual((await adminQuery(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'`, [], db)).rows, [], 'the database is still empty');
  });
});
