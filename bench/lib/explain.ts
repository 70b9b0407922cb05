// EXPLAIN (ANALYZE, BUFFERS) of the statements whose cost could grow with the table: every one the
// engine exports in hotStatements(), the task list the API runs, and the retention job's select,
// against a deep queue and a long history.
import type pg from 'pg';
import { hotStatements, listTasks } from '../../src/tasks/queries.js';
import { taskJobs } from '../../src/tasks/jobs.js';
import { runtimeOptions } from '../../src/config/options.js';
import { BUSY_SQL, clearTasks } from './queue.js';
import { round } from './util.js';

interface Statement { readonly name: string; readonly source: string; readonly text: string; readonly values: unknown[]; readonly settings?: readonly string[] }

/**
 * The statements `fn` sends, captured rather than copied here, so the plans follow the code as it
 * changes. `fn` runs against the real tables (its branches depend on what it reads: the list's
 * count, the retention setting) inside a transaction that is rolled back, so its writes vanish.
 * EXPLAINs it sends itself (the list's estimated count) only plan, and are left out.
 */
async function captured(db: pg.Client, source: string, name: string, fn: (db: any) => Promise<unknown>): Promise<Statement[]> {
  const out: Statement[] = [];
  const recorder = {
    query: (q: string | { text: string; values?: unknown[] }, values?: unknown[]) => {
      const text = typeof q === 'string' ? q : q.text;
      const vals = (typeof q === 'string' ? values : q.values) ?? [];
      if (/\bserver_tasks\b/.test(text) && !/^\s*EXPLAIN\b/i.test(text)) out.push({ name: '', source, text, values: vals });
      return db.query(text, vals);
    },
  };
  await db.query('BEGIN');
  try {
    await fn(recorder);
  } finally {
    await db.query('ROLLBACK');
  }
  // listTasks sends a page and a count: named by what they are.
  return out.map((s) => ({ ...s, name: out.length > 1 ? `${name} ${/\bcount\s*\(/i.test(s.text) ? 'count' : 'page'}` : name }));
}

/**
 * The statement inside the claim function (migration 011), read from the database itself, with the
 * function's parameters as $1..$4 and its SET clauses: EXPLAIN of the function call shows only a
 * Function Scan.
 */
async function claimBody(db: pg.Client, nodeId: string, epoch: number): Promise<Statement> {
  const r = await db.query<{ prosrc: string; proconfig: string[] | null }>(`SELECT prosrc, proconfig FROM pg_proc WHERE proname = 'cuttle_claim_tasks'`);
  const row = r.rows[0];
  if (!row) throw new Error('the database has no cuttle_claim_tasks function');
  const m = /RETURN QUERY([\s\S]*?);\s*END\s*$/i.exec(row.prosrc.trim());
  if (!m) throw new Error('cannot find the statement in cuttle_claim_tasks');
  const text = m[1]!.replace(/\bp_node\b/g, '$1::text').replace(/\bp_epoch\b/g, '$2::int').replace(/\bp_limit\b/g, '$3::int').replace(/\bp_running\b/g, '$4::int');
  return { name: 'claim (the statement of cuttle_claim_tasks)', source: 'migration 011', text, values: [nodeId, epoch, 5, 0], settings: row.proconfig ?? [] };
}

async function statements(db: pg.Client, nodeId: string, epoch: number): Promise<Statement[]> {
  const filter = { skip: 0, take: 30, ids: [], spaces: [] };
  const retention = taskJobs(runtimeOptions({})).find((j) => j.name === 'task-log-retention');
  const hot = hotStatements(nodeId, epoch).map((s) => ({ ...s, source: 'hotStatements' }));
  const others = [
    ...(await captured(db, 'GET /api/tasks', 'list (newest 30)', (db) => listTasks(db, { ...filter, states: [] }))),
    ...(await captured(db, 'GET /api/tasks?states=Queued', 'list states=Queued', (db) => listTasks(db, { ...filter, states: ['Queued'] }))),
    ...(retention ? await captured(db, 'job task-log-retention', 'retention select', (db) => retention.run(db)) : []),
  ];
  // A statement the engine already exports (it moves SQL there over time) is explained once.
  const same = (a: Statement, b: Statement) => a.text === b.text && JSON.stringify(a.values) === JSON.stringify(b.values);
  return [
    ...hot,
    await claimBody(db, nodeId, epoch),
    ...others.filter((s) => !hot.some((h) => same(h, s))),
    { name: 'benchmark poll (queue busy?)', source: 'bench', text: BUSY_SQL, values: [] },
  ];
}

/**
 * A history of `finished` Success tasks, completed evenly over the last 60 days (older than the
 * default 30-day retention: logs deleted, but for every hundredth, which the retention job has yet
 * to reach), then `queued` Noops behind it, every tenth carrying one of 1,000 concurrency tags.
 */
async function fill(db: pg.Client, nodeId: string, queued: number, finished: number): Promise<void> {
  await clearTasks(db);
  await db.query(
    `INSERT INTO server_tasks (id, seq, name, description, state, queue_time, start_time, completed_time, last_updated, server_node, node_epoch, attempt, logs_deleted)
     SELECT 'ServerTasks-' || x.s, x.s, 'Noop', 'bench history', 'Success', c - interval '2 seconds', c - interval '1 second', c, c, $2, 1, 1,
            c < now() - interval '30 days' AND x.i % 100 <> 0
     FROM (SELECT i, nextval('server_tasks_seq') AS s FROM generate_series(1, $1) i) x
     CROSS JOIN LATERAL (SELECT now() - interval '60 days' * (1 - x.i::float8 / $1) AS c) t`, [finished, nodeId]);
  await db.query(
    `INSERT INTO server_tasks (id, seq, name, description, concurrency_tag)
     SELECT 'ServerTasks-' || s, s, 'Noop', 'bench', CASE WHEN s % 10 = 0 THEN 'bench-tag-' || (s / 10 % 1000) END
     FROM (SELECT nextval('server_tasks_seq') AS s FROM generate_series(1, $1)) x`, [queued]);
  // A table this old would have been vacuumed and analyzed by autovacuum.
  await db.query('VACUUM ANALYZE server_tasks');
}

/**
 * Each statement runs twice inside a transaction that is rolled back (claims and other writes
 * change nothing): once to warm the cache, once measured. In that transaction the node's row says
 * it is up with cap 5, as a live node's would; no node process runs, so nothing else claims.
 */
async function explainOne(db: pg.Client, s: Statement, nodeId: string): Promise<Record<string, unknown>> {
  let lines: string[] = [];
  for (let pass = 0; pass < 2; pass++) {
    await db.query('BEGIN');
    try {
      await db.query('UPDATE nodes SET stopped_at = NULL, drain = false, max_concurrent_tasks = 5 WHERE id = $1', [nodeId]);
      // Plans fitted to each call's values.
      await db.query('SET LOCAL plan_cache_mode = force_custom_plan');
      // A function's own settings (SET clauses), as its statement runs with them.
      for (const setting of s.settings ?? []) {
        const eq = setting.indexOf('=');
        await db.query('SELECT set_config($1, $2, true)', [setting.slice(0, eq), setting.slice(eq + 1)]);
      }
      const r = await db.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS, FORMAT TEXT) ${s.text}`, s.values);
      lines = r.rows.map((x) => x['QUERY PLAN']);
    } finally {
      await db.query('ROLLBACK');
    }
  }
  const time = (label: string) => {
    const m = lines.map((l) => new RegExp(`^${label}: ([\\d.]+) ms`).exec(l.trim())).find(Boolean);
    return m ? Number(m[1]) : null;
  };
  return { name: s.name, source: s.source, execution_ms: time('Execution Time'), planning_ms: time('Planning Time'), values: s.values, plan: lines };
}

export async function explainPlans(db: pg.Client, nodeName: string, queued: number, finished: number): Promise<Record<string, unknown>> {
  const nodeId = `OctopusServerNodes-${nodeName}`;
  const started = Date.now();
  await fill(db, nodeId, queued, finished);
  const filledMs = Date.now() - started;
  const epoch = (await db.query<{ epoch: number }>('SELECT epoch FROM nodes WHERE id = $1', [nodeId])).rows[0]!.epoch;
  const plans = [];
  for (const s of await statements(db, nodeId, epoch)) {
    try {
      plans.push(await explainOne(db, s, nodeId));
    } catch (err) {
      plans.push({ name: s.name, source: s.source, error: (err as Error).message });
    }
  }
  return { queued, finished, fill_seconds: round(filledMs / 1000), node: nodeId, epoch, plans };
}
