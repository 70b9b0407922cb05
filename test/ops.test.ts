// Operating a cluster: metrics scraped from two nodes during a task load (and consistent with the
// API), telemetry files from every node in the shared folder (read back by `cuttle doctor`), and
// audit events exported to the shared EventExports folder — exactly once, even across a SIGKILL.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ADMIN_API_KEY, adminQuery, api, cuttle, must, queueTask, readyCluster, startNode, waitFor, type NodeProcess, type TestCluster } from './helpers.js';
import { openPool, withTransaction } from '../src/db/pool.js';
import { exportOldEvents } from '../src/ops/eventExport.js';

const K = { apiKey: ADMIN_API_KEY };

/** Prometheus text → samples: `name{labels}` → value. */
function parseMetrics(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    m.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return m;
}

/** The sum of every sample of `name` whose labels include all of `labels`. */
function sum(samples: Map<string, number>, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const [k, v] of samples) {
    const brace = k.indexOf('{');
    if ((brace < 0 ? k : k.slice(0, brace)) !== name) continue;
    if (Object.entries(labels).every(([l, val]) => k.includes(`${l}="${val}"`))) total += v;
  }
  return total;
}

async function scrape(node: NodeProcess, opts: { apiKey?: string } = K): Promise<Map<string, number>> {
  const r = await fetch(`${node.url}/metrics`, { headers: opts.apiKey ? { 'X-Octopus-ApiKey': opts.apiKey } : {} });
  assert.equal(r.status, 200, await r.clone().text());
  assert.match(r.headers.get('content-type') ?? '', /^text\/plain/);
  return parseMetrics(await r.text());
}

async function insertOldEvents(url: string, perDay: number, days: number, ageDays: number): Promise<string[]> {
  // Straight into the table, as events of long ago would be (occurred cannot be back-dated through the API).
  const r = await adminQuery<{ id: string }>(
    `INSERT INTO events (id, seq, space_id, category, message, occurred, user_id, username, related_document_ids)
     SELECT 'Events-' || s, s, 'Spaces-1', 'Modified', 'old event ' || s,
            date_trunc('day', now()) - make_interval(days => $3::int + (g % $2::int)) + make_interval(secs => g % 3600),
            'Users-1', 'admin', ARRAY['Spaces-1']
       FROM (SELECT g, nextval('events_seq') AS s FROM generate_series(1, $1::int * $2::int) AS g) AS x
     RETURNING id`, [perDay, days, ageDays], url);
  return r.rows.map((x) => x.id);
}

/** Every exported line of every day file, as event ids (duplicates kept, so a test can count them). */
function exportedIds(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => /^events-\d{4}-\d{2}-\d{2}\.jsonl$/.test(f))
    .flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { Id: string }).Id));
}

describe('metrics and telemetry on a two-node cluster', () => {
  let cluster: TestCluster;
  let a: NodeProcess;
  let b: NodeProcess;

  before(async () => {
    cluster = await readyCluster(['ma', 'mb']);
    const env = { CUTTLE_TELEMETRY_SECONDS: '0.5' };
    [a, b] = await Promise.all([startNode(cluster.homes[0]!, 'ma', env), startNode(cluster.homes[1]!, 'mb', env)]);
  });
  after(async () => { await Promise.all([a?.kill(), b?.kill()]); });

  it('answers only administrators, or a scraper from an address the cluster setting lists', async () => {
    const anonymous = await fetch(`${a.url}/metrics`);
    assert.equal(anonymous.status, 401);
    assert.match((await anonymous.json() as { ErrorMessage: string }).ErrorMessage, /metrics\.scrape_from/);
    // A signed-in user who is not an administrator.
    const user = await api(a.url, '/api/users', { ...K, method: 'POST', body: { Username: 'viewer', DisplayName: 'Viewer', Password: 'viewer-password-1', IsActive: true, IsService: false } });
    assert.equal(user.status, 201, JSON.stringify(user.body));
    const key = await api(b.url, `/api/users/${user.body.Id}/apikeys`, { ...K, method: 'POST', body: { Purpose: 'metrics' } });
    const denied = await fetch(`${b.url}/metrics`, { headers: { 'X-Octopus-ApiKey': key.body.ApiKey } });
    assert.equal(denied.status, 403);
    // An address outside the list stays out; inside it, no credentials are needed, on every node.
    must(cuttle(['setting', '--home', cluster.homes[0]!, 'metrics.scrape_from', '["10.0.0.0/8"]']));
    assert.equal((await fetch(`${a.url}/metrics`)).status, 401);
    const bad = cuttle(['setting', '--home', cluster.homes[0]!, 'metrics.scrape_from', '["10.0.0.0/99"]']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /"10\.0\.0\.0\/99" is not an address or a CIDR block/);
    must(cuttle(['setting', '--home', cluster.homes[1]!, 'metrics.scrape_from', '["10.0.0.0/8", "127.0.0.0/8"]']));
    await scrape(a, {});
    await scrape(b, {});
    must(cuttle(['setting', '--home', cluster.homes[0]!, 'metrics.scrape_from', '--unset']));
    assert.equal((await fetch(`${b.url}/metrics`)).status, 401);
  });

  it('counts a task load on each node as the API reports it, scraped during and after the load', async () => {
    const before = await Promise.all([scrape(a), scrape(b)]);
    const ids: string[] = [];
    const load = (async () => {
      for (let i = 0; i < 40; i++) ids.push((await queueTask(i % 2 ? b : a, { Name: 'AdHocScript', Arguments: { ScriptBody: 'sleep 0.05; echo hi' } })).Id);
    })();
    // Scrapes while tasks queue and run: every one parses, and counters only grow.
    let last = before;
    let sawRunning = false;
    while (ids.length < 40) {
      const now = await Promise.all([scrape(a), scrape(b)]);
      now.forEach((m, i) => {
        assert.ok(sum(m, 'cuttle_tasks_claimed_total') >= sum(last[i]!, 'cuttle_tasks_claimed_total'));
        if (sum(m, 'cuttle_tasks_running') > 0) sawRunning = true;
      });
      last = now;
      await new Promise((r) => setTimeout(r, 50));
    }
    await load;
    await waitFor('the 40 tasks to finish', async () => (await api(a.url, '/api/tasks?states=Queued,Executing,Cancelling&take=0', K)).body.TotalResults === 0, 60_000, 100);
    const tasks = (await api(b.url, `/api/tasks?ids=${ids.join(',')}&take=100`, K)).body.Items as { State: string; ServerNode: string }[];
    assert.equal(tasks.length, 40);
    const after = await Promise.all([scrape(a), scrape(b)]);
    for (const [i, node] of [a, b].entries()) {
      const ranHere = tasks.filter((t) => t.ServerNode === node.name).length;
      const m = after[i]!;
      const finished = sum(m, 'cuttle_tasks_finished_total', { state: 'Success', type: 'AdHocScript' }) - sum(before[i]!, 'cuttle_tasks_finished_total', { state: 'Success', type: 'AdHocScript' });
      assert.equal(finished, ranHere, `${node.name}: finished counter against the API's ServerNode`);
      assert.equal(sum(m, 'cuttle_tasks_claimed_total') - sum(before[i]!, 'cuttle_tasks_claimed_total'), ranHere);
      assert.equal(sum(m, 'cuttle_task_duration_seconds_count', { type: 'AdHocScript' }) - sum(before[i]!, 'cuttle_task_duration_seconds_count', { type: 'AdHocScript' }), ranHere);
      assert.ok(sum(m, 'cuttle_task_duration_seconds_sum', { type: 'AdHocScript' }) - sum(before[i]!, 'cuttle_task_duration_seconds_sum', { type: 'AdHocScript' }) >= ranHere * 0.05, 'each script slept 50 ms');
      assert.equal(sum(m, 'cuttle_task_pickup_seconds_count') - sum(before[i]!, 'cuttle_task_pickup_seconds_count'), ranHere);
      assert.equal(sum(m, 'cuttle_tasks_queued'), 0);
      assert.equal(sum(m, 'cuttle_tasks_running'), 0);
      assert.equal(sum(m, 'cuttle_nodes_online'), 2);
      for (const peer of ['ma', 'mb']) {
        assert.equal(sum(m, 'cuttle_node_online', { peer }), 1);
        const age = m.get(`cuttle_node_heartbeat_age_seconds{peer="${peer}",node="${node.name}"}`);
        assert.ok(age !== undefined && age >= 0 && age < 3, `${node.name} sees ${peer}'s heartbeat ${age} s old`);
      }
      for (const folder of ['TaskLogs', 'Artifacts', 'Packages', 'Telemetry', 'EventExports']) assert.equal(sum(m, 'cuttle_shared_folder_ok', { folder }), 1, folder);
      assert.equal(sum(m, 'cuttle_database_up'), 1);
      assert.ok(sum(m, 'cuttle_db_pool_connections', { state: 'max' }) >= 2);
      assert.ok(m.has(`nodejs_eventloop_lag_seconds{node="${node.name}"}`), 'event-loop lag');
      // POSTs of this node's share of the 40, by route pattern and status.
      assert.equal(sum(m, 'cuttle_http_request_duration_seconds_count', { method: 'POST', route: '/api/tasks', status: '201' }), 20);
    }
    assert.ok(sawRunning || tasks.length === 40, 'scraped during the load');
  });

  it('writes telemetry from every node to the shared folder, and doctor shows the last hour', async () => {
    const dir = join(cluster.shared, 'Telemetry');
    const day = new Date().toISOString().slice(0, 10);
    const lines = await waitFor('telemetry from both nodes that counts their tasks', () => {
      const all = ['ma', 'mb'].map((n) => {
        const f = join(dir, `telemetry-${n}-${day}.jsonl`);
        return existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
      });
      const ran = all.flat().reduce((n, s) => n + Object.values(s.tasks.finished as Record<string, number>).reduce((x, y) => x + y, 0), 0);
      return all.every((l) => l.length >= 2) && ran >= 40 ? all : undefined;
    }, 20_000, 200);
    for (const [i, list] of lines.entries()) {
      for (const s of list) {
        assert.equal(s.node, ['ma', 'mb'][i]);
        assert.ok(Date.parse(s.time) > Date.now() - 600_000);
        assert.ok(s.queue && typeof s.queue.queued === 'number');
        assert.deepEqual(s.nodes.map((n: any) => n.name).sort(), ['ma', 'mb']);
        assert.ok(s.storage.length >= 5 && s.storage.every((f: any) => f.ok), `${s.node} at ${s.time}: ${JSON.stringify(s.storage)}`);
      }
    }
    const doctor = cuttle(['doctor', '--home', cluster.homes[1]!]);
    assert.equal(doctor.code, 0, doctor.stdout + doctor.stderr);
    assert.match(doctor.stdout, /the cluster's last hour, from \d+ telemetry snapshot\(s\) of 2 node\(s\)/);
    const tasksRun = [...doctor.stdout.matchAll(/ {2}(ma|mb): \d+ snapshot\(s\).*?ran (\d+) task\(s\)/g)].map((m) => Number(m[2]));
    assert.equal(tasksRun.length, 2, doctor.stdout);
    assert.ok(tasksRun.reduce((x, y) => x + y, 0) >= 40, doctor.stdout);
  });
});

describe('audit events exported to shared storage', () => {
  it('moves old events to one file per day, exactly once, even when the commit never comes', async () => {
    const cluster = await readyCluster(['ea']);
    const dir = join(cluster.shared, 'EventExports');
    const old = await insertOldEvents(cluster.databaseUrl, 300, 3, 100);
    const recent = await insertOldEvents(cluster.databaseUrl, 10, 1, 2);
    const pool = await openPool(cluster.databaseUrl, { max: 1 });
    try {
      // A node that dies after its files were renamed into place but before its transaction commits.
      await assert.rejects(withTransaction(pool, async (c) => {
        const r = await exportOldEvents(c, dir, 90);
        assert.equal(r.removed, old.length);
        throw new Error('the node died before the commit');
      }), /died before the commit/);
      assert.equal(new Set(exportedIds(dir)).size, old.length, 'the files were written');
      assert.equal((await adminQuery('SELECT count(*)::int AS n FROM events', [], cluster.databaseUrl)).rows[0]!.n >= old.length, true, 'the rows are still there');
      // The next run merges the same rows into the files already there: no line twice.
      const again = await withTransaction(pool, (c) => exportOldEvents(c, dir, 90));
      assert.equal(again.removed, old.length);
      assert.equal(again.exported, 0);
    } finally {
      await pool.end();
    }
    const ids = exportedIds(dir);
    assert.equal(ids.length, old.length, 'no event written twice');
    assert.deepEqual([...ids].sort(), [...old].sort());
    assert.equal(readdirSync(dir).filter((f) => f.endsWith('.jsonl')).length, 3, 'one file per day');
    const left = (await adminQuery<{ id: string }>('SELECT id FROM events WHERE id = ANY($1)', [[...old, ...recent]], cluster.databaseUrl)).rows.map((r) => r.id);
    assert.deepEqual(left.sort(), [...recent].sort(), 'only the recent events stay in the database');
    const line = JSON.parse(readFileSync(join(dir, readdirSync(dir).find((f) => f.endsWith('.jsonl'))!), 'utf8').split('\n')[0]!);
    assert.equal(line.Category, 'Modified');
    assert.match(line.Occurred, /^\d{4}-\d{2}-\d{2}T/);
    assert.equal(line.Username, 'admin');
  });

  it('loses and duplicates nothing when the exporting node is killed mid-export', async () => {
    const cluster = await readyCluster(['xa', 'xb']);
    const dir = join(cluster.shared, 'EventExports');
    const old = await insertOldEvents(cluster.databaseUrl, 10_000, 8, 100);
    const env = { CUTTLE_EVENT_EXPORT_SECONDS: '0.5' };
    const a = await startNode(cluster.homes[0]!, 'xa', env);
    const b = await startNode(cluster.homes[1]!, 'xb', env);
    try {
      // Kill the node that holds the export's row locks once it has renamed a day file into place
      // and before it commits: the window where a careless export would lose or repeat events.
      const holder = await waitFor('the export to be under way with a day file written', async () => {
        if (!existsSync(dir) || !readdirSync(dir).some((f) => /^events-.*\.jsonl$/.test(f))) return undefined;
        const r = await adminQuery<{ application_name: string }>(
          `SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.relation = 'events'::regclass AND l.mode = 'RowShareLock' AND a.application_name LIKE 'cuttle x%'
            LIMIT 1`, [], cluster.databaseUrl);
        return r.rows[0]?.application_name;
      }, 60_000, 2);
      const victim = holder === 'cuttle xb' ? b : a;
      await victim.kill('SIGKILL');
      const survivor = victim === a ? b : a;
      const countOld = async () => Number((await adminQuery('SELECT count(*) AS n FROM events WHERE id = ANY($1)', [old], cluster.databaseUrl)).rows[0]!.n);
      const leftAtKill = await countOld();
      assert.equal(leftAtKill, old.length, 'the kill came before the export committed');
      await waitFor('the survivor to finish the export', async () => (await countOld()) === 0, 120_000, 200);
      const ids = exportedIds(dir);
      console.log(`# killed ${victim.name} mid-export; ${leftAtKill} of ${old.length} events were still in the database`);
      assert.equal(ids.length, old.length, `every event exported exactly once (${leftAtKill} were still in the database at the kill)`);
      assert.equal(new Set(ids).size, old.length);
      assert.deepEqual([...ids].sort(), [...old].sort());
      assert.equal(readdirSync(dir).filter((f) => /^events-.*\.jsonl$/.test(f)).length, 8);
      assert.ok(survivor.child.exitCode === null, 'the survivor carried on');
    } finally {
      await Promise.all([a.kill(), b.kill()]);
    }
  });
});

