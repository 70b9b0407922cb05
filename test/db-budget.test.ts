// A connection budget: ten real nodes on one PostgreSQL server with a stock max_connections of 100
// (a server of this test's own, so that other test files neither use its connections nor suffer
// from it being full), the database role Cuttle should have (owns its database, not a superuser),
// bursts of API calls, and `cuttle doctor` and start-up comparing the cluster's need with the limit.
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { freePort, randomPassword, startEmbedded, type EmbeddedServer } from '../src/db/embedded.js';
import { ADMIN_API_KEY, api, cuttle, must, readyCluster, startNode, tempDir, waitFor, type NodeProcess, type TestCluster } from './helpers.js';

const NODES = 10;
const MAX_CONNECTIONS = 100;

interface OwnServer { server: EmbeddedServer; superuserUrl: string; url: string; stop(): Promise<void> }

/** A PostgreSQL server with max_connections 100, a role `cuttle` that owns database `cuttle` and nothing else, migrated. */
async function ownServer(): Promise<OwnServer> {
  const dir = mkdtempSync(join(tmpdir(), 'cuttle-budget-pg-'));
  chmodSync(dir, 0o755); // the postgres user must reach the data folder when we run as root
  const server = await startEmbedded({ dataDir: join(dir, 'data'), port: await freePort(), password: randomPassword(), maxConnections: MAX_CONNECTIONS });
  const rolePassword = randomPassword();
  const admin = new pg.Client({ connectionString: server.adminUrl });
  await admin.connect();
  try {
    // The README's recommended set-up: a role that can log in and owns Cuttle's database, no more.
    await admin.query(`CREATE ROLE cuttle LOGIN PASSWORD '${rolePassword}' NOSUPERUSER NOCREATEDB NOCREATEROLE`);
    await admin.query('CREATE DATABASE cuttle OWNER cuttle');
  } finally {
    await admin.end();
  }
  const url = `postgres://cuttle:${encodeURIComponent(rolePassword)}@127.0.0.1:${server.port}/cuttle`;
  must(cuttle(['database', '--upgrade', '--database', url]));
  const stop = async () => { await server.stop(); rmSync(dir, { recursive: true, force: true }); };
  return { server, superuserUrl: server.databaseUrl('cuttle'), url, stop };
}

interface Burst { statuses: Map<string, number[]>; taskIds: string[]; failures: string[] }

/**
 * `total` API calls at once, spread round-robin over the nodes: a third queue a Noop task, the rest
 * read (task list, one task, nodes, the caller); returns every status by route and the queued ids.
 */
async function burst(nodes: NodeProcess[], total: number): Promise<Burst> {
  const key = { apiKey: ADMIN_API_KEY };
  const calls = Array.from({ length: total }, (_, i) => {
    const node = nodes[i % nodes.length]!;
    switch (i % 6) {
      case 0: case 3: return ['POST /api/tasks', () => api(node.url, '/api/tasks', { ...key, body: { Name: 'Noop', Description: `burst ${i}` } })] as const;
      case 1: return ['GET /api/tasks', () => api(node.url, '/api/tasks?take=10', key)] as const;
      case 2: return ['GET /api/octopusservernodes', () => api(node.url, '/api/octopusservernodes', key)] as const;
      case 4: return ['GET /api/users/me', () => api(node.url, '/api/users/me', key)] as const;
      default: return ['GET /api/octopusservernodes/ping', () => api(node.url, '/api/octopusservernodes/ping')] as const;
    }
  });
  const results = await Promise.all(calls.map(async ([what, call]) => ({ what, r: await call() })));
  const statuses = new Map<string, number[]>();
  const failures: string[] = [];
  const taskIds: string[] = [];
  for (const { what, r } of results) {
    statuses.set(what, [...(statuses.get(what) ?? []), r.status]);
    if (r.status >= 500) failures.push(`${what} → ${r.status} ${JSON.stringify(r.body)}`);
    if (what === 'POST /api/tasks' && r.status === 201) taskIds.push((r.body as { Id: string }).Id);
  }
  return { statuses, taskIds, failures };
}

describe(`${NODES} nodes on one PostgreSQL server with max_connections ${MAX_CONNECTIONS}`, () => {
  let db: OwnServer;
  let c: TestCluster;
  let nodes: NodeProcess[];
  let admin: pg.Client;
  const names = Array.from({ length: NODES }, (_, i) => `budget-${i + 1}`);

  before(async () => {
    db = await ownServer();
    c = await readyCluster(names, { databaseUrl: db.url });
    nodes = await Promise.all(names.map((n, i) => startNode(c.homes[i]!, n)));
    // The test's own connection: a superuser's, so it may use the reserved slots and never competes with the nodes.
    admin = new pg.Client({ connectionString: db.superuserUrl });
    await admin.connect();
  });
  after(async () => {
    await admin.end().catch(() => undefined);
    await Promise.all(nodes.map((n) => n.kill('SIGTERM')));
    await db.stop();
  });

  async function untilAllSucceeded(ids: string[]): Promise<void> {
    await waitFor(`${ids.length} tasks to succeed`, async () => {
      const r = await admin.query<{ state: string; n: number }>('SELECT state, count(*)::int AS n FROM server_tasks WHERE id = ANY($1) GROUP BY state', [ids]);
      const states = Object.fromEntries(r.rows.map((x) => [x.state, x.n]));
      assert.equal(states.Failed ?? 0, 0, `no task failed: ${JSON.stringify(states)}`);
      return states.Success === ids.length;
    }, 60_000, 200);
  }

  it('logs at every start-up that ten nodes with the default pool fit the server', () => {
    for (const n of nodes) {
      assert.match(n.output(), /connection budget: 10 node\(s\) × \(5 pooled, set by the default, \+ 2 for liveness and notifications\) = 70 connections, plus 3 reserved and 5 for administrators = 78 of max_connections 100/, n.name);
      assert.doesNotMatch(n.output(), /may need more connections/, n.name);
    }
  });

  it('waits for a connection instead of failing while the server refuses new ones (too many clients), and every task runs', async () => {
    // Fill every slot a non-superuser may take, as role cuttle, then give three back: the nodes'
    // pools cannot grow as the burst wants them to, and the server says "too many clients".
    const held: pg.Client[] = [];
    try {
      for (;;) {
        const extra = new pg.Client({ connectionString: db.url });
        extra.on('error', () => undefined);
        try {
          await extra.connect();
        } catch (err) {
          assert.equal((err as { code?: string }).code, '53300', `filling the server stopped with ${String(err)}`);
          break;
        }
        held.push(extra);
        assert.ok(held.length <= MAX_CONNECTIONS, 'the server never said it was full');
      }
      for (const h of held.splice(0, 3)) await h.end();
      const b = await burst(nodes, 120);
      assert.deepEqual(b.failures, [], 'no 5xx while the server was full');
      assert.equal(b.taskIds.length, 40, 'every task was queued');
      assert.ok(nodes.some((n) => /the database refused a new connection; requests wait/.test(n.output())),
        'at least one node met a full server and waited (the path under test was taken)');
      await untilAllSucceeded(b.taskIds);
    } finally {
      await Promise.all(held.map((h) => h.end().catch(() => undefined)));
    }
  });

  it('answers a burst of 300 API calls, 100 of them task creations, without a 5xx, and every task runs to Success', async () => {
    const b = await burst(nodes, 300);
    assert.deepEqual(b.failures, [], 'no 5xx');
    assert.ok([...b.statuses.values()].flat().every((s) => s === 200 || s === 201), JSON.stringify(Object.fromEntries(b.statuses)));
    assert.equal(b.taskIds.length, 100);
    await untilAllSucceeded(b.taskIds);
    const used = await admin.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = 'cuttle'");
    assert.ok(used.rows[0]!.n <= NODES * 7, `the nodes hold at most 10 × (5 + 2) connections (hold ${used.rows[0]!.n})`);
  });

  it('`doctor` reports the connection budget and that the role is not a superuser', () => {
    const r = cuttle(['doctor', '--home', c.homes[0]!]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const budget = /^ok\s+connection budget: 10 node\(s\) × \(5 pooled, set by the default, \+ 2 for liveness and notifications\) = 70 connections, .* = 78 of max_connections 100 \((\d+) in use now\)/m.exec(r.stdout);
    assert.ok(budget, r.stdout);
    assert.ok(Number(budget[1]) >= NODES * 3, `every node's liveness, notification and at least one pooled connection are counted (${budget[1]})`);
    assert.match(r.stdout, /^ok\s+the database role "cuttle" is not a superuser/m);
    // Nothing about the database is wrong (the script-user warning is the worker's business).
    assert.doesNotMatch(r.stdout, /^(WARN|FAIL)\s+(the database|the cluster may need|connection budget)/m);
    assert.doesNotMatch(r.stdout, /^FAIL/m);
  });

  it('`doctor` warns, naming what to change, when the pool setting does not fit the server', () => {
    const r = cuttle(['doctor', '--home', c.homes[0]!], { CUTTLE_DATABASE_POOL_SIZE: '10' });
    assert.equal(r.code, 0, `a warning is not a failure: ${r.stdout}${r.stderr}`);
    const line = /^WARN\s+the cluster may need more connections than the server allows: (.*)$/m.exec(r.stdout)?.[1];
    assert.ok(line, r.stdout);
    assert.match(line, /10 node\(s\) × \(10 pooled, set by CUTTLE_DATABASE_POOL_SIZE, \+ 2 for liveness and notifications\) = 120 connections/);
    assert.match(line, /set CUTTLE_DATABASE_POOL_SIZE \(or databasePoolSize in each node's config file\) to 7 or less on every node/);
    assert.match(line, /raise max_connections to at least 128/);
    assert.match(line, /PgBouncer/);
    assert.match(r.stdout, /No problems found\. \d+ warning\(s\)\./);
  });

  it('`doctor` warns when the database role is a superuser, naming the fix', () => {
    // The same node's home, but connecting as the server's superuser.
    const home = join(tempDir(), 'home-superuser');
    mkdirSync(home, { mode: 0o700 });
    const config = JSON.parse(readFileSync(join(c.homes[0]!, 'cuttle.config.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(home, 'cuttle.config.json'), JSON.stringify({ ...config, databaseUrl: db.superuserUrl }), { mode: 0o600 });
    copyFileSync(join(c.homes[0]!, 'master.key'), join(home, 'master.key'));
    const r = cuttle(['doctor', '--home', home]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^WARN\s+the database role "postgres" is a superuser: .*create a role that only owns Cuttle's database .*README/m);
  });

  it('starts a node whose pool does not fit, with a warning at start-up that says what to change', async () => {
    const last = nodes.pop()!;
    await last.kill('SIGTERM');
    const restarted = await startNode(c.homes[NODES - 1]!, last.name, { CUTTLE_DATABASE_POOL_SIZE: '10' });
    nodes.push(restarted);
    assert.match(restarted.output(), /"level":40.*the cluster may need more connections than the server allows: 10 node\(s\) × \(10 pooled, set by CUTTLE_DATABASE_POOL_SIZE.*raise max_connections to at least 128/);
    assert.equal((await api(restarted.url, '/api/octopusservernodes/ping')).status, 200);
  });

  it('opens liveness and notifications on the session URL when one is set (PgBouncer in front), and doctor counts only those', async () => {
    // The session URL names another role here, so the server tells which connection came through which URL.
    const last = nodes.pop()!;
    await last.kill('SIGTERM');
    const restarted = await startNode(c.homes[NODES - 1]!, last.name, { CUTTLE_DATABASE_SESSION_URL: db.superuserUrl });
    nodes.push(restarted);
    const r = await admin.query<{ usename: string; application_name: string }>(
      "SELECT usename, application_name FROM pg_stat_activity WHERE application_name LIKE 'cuttle%' AND application_name LIKE $1 ORDER BY application_name", [`% ${last.name}`]);
    const by = Object.fromEntries(r.rows.map((x) => [x.application_name, x.usename]));
    assert.equal(by[`cuttle liveness ${last.name}`], 'postgres', JSON.stringify(r.rows));
    assert.equal(by[`cuttle listen ${last.name}`], 'postgres', JSON.stringify(r.rows));
    assert.equal(by[`cuttle ${last.name}`], 'cuttle', `the pool keeps databaseUrl: ${JSON.stringify(r.rows)}`);
    const d = cuttle(['doctor', '--home', c.homes[0]!], { CUTTLE_DATABASE_SESSION_URL: db.superuserUrl });
    assert.match(d.stdout, /^ok\s+connection budget: 10 node\(s\) × \(2 for liveness and notifications; the 5 pooled, set by the default, go through a pooler\) = 20 connections, .* = 28 of max_connections 100 .*PgBouncer's default_pool_size\) must stay within the 72 left/m);
  });

  it('refuses a pool size out of range, naming the setting and the allowed range', () => {
    for (const bad of ['0', '1', '201', 'ten', '5.5']) {
      const r = cuttle(['run', '--home', c.homes[0]!], { CUTTLE_DATABASE_POOL_SIZE: bad, CUTTLE_LISTEN: '127.0.0.1:1' });
      assert.equal(r.code, 2, `${bad}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`CUTTLE_DATABASE_POOL_SIZE="${bad.replace('.', '\\.')}" is not a whole number from 2 to 200`));
    }
    const home = join(tempDir(), 'home-bad-pool');
    mkdirSync(home, { mode: 0o700 });
    const config = JSON.parse(readFileSync(join(c.homes[0]!, 'cuttle.config.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(home, 'cuttle.config.json'), JSON.stringify({ ...config, databasePoolSize: 0 }), { mode: 0o600 });
    copyFileSync(join(c.homes[0]!, 'master.key'), join(home, 'master.key'));
    const r = cuttle(['run', '--home', home], { CUTTLE_LISTEN: '127.0.0.1:1' });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /sets databasePoolSize to 0; give a whole number from 2 to 200, or remove it for the default of 5/);
  });
});
