import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, before, after } from 'node:test';
import pg from 'pg';
import { Masker } from '../src/tasks/log.js';
import { ADMIN_API_KEY, api, queueTask, recordPid, recordedRunning, untilTask, readyCluster, cuttle, startNode, waitFor, type NodeProcess, type TestCluster } from './helpers.js';

const K = { apiKey: ADMIN_API_KEY };

const queue = queueTask;
const until = (node: NodeProcess, id: string, pred: (t: any) => boolean, what: string, timeoutMs = 20_000) => untilTask(node, id, pred, what, timeoutMs);

describe('masking sensitive values in task logs', () => {
  it('replaces every value longer than three characters, longest first, and leaves short ones', () => {
    const m = new Masker(['hunter2', 'hunter2-and-more', 'abc']);
    assert.equal(m.mask('pw=hunter2-and-more; old=hunter2; x=abc'), 'pw=********; old=********; x=abc');
    assert.equal(new Masker([]).mask('nothing to hide'), 'nothing to hide');
  });
});

describe('task lifecycle across node shutdowns and cluster jobs', () => {
  let cluster: TestCluster;
  let nodes: NodeProcess[];
  const env = { CUTTLE_SHUTDOWN_GRACE_SECONDS: '0.5', CUTTLE_RETENTION_JOB_SECONDS: '0.5' };
  before(async () => {
    cluster = await readyCluster(['l1', 'l2']);
    nodes = await Promise.all(['l1', 'l2'].map((n, i) => startNode(cluster.homes[i]!, n, env)));
  });
  after(async () => { await Promise.all(nodes.map((n) => n.kill('SIGKILL'))); });

  it('hands a re-runnable task back to the queue on SIGTERM and fails the others naming the node', async () => {
    const [a, b] = nodes as [NodeProcess, NodeProcess];
    await api(a.url, '/api/octopusservernodes/OctopusServerNodes-l2', { ...K, method: 'PUT', body: { MaxConcurrentTasks: 0 } });
    const retry = await queue(a, { Name: 'AdHocScript', RetryOnNodeFailure: true, Arguments: { ScriptBody: 'sleep 30' } });
    const once = await queue(a, { Name: 'AdHocScript', Arguments: { ScriptBody: 'sleep 30' } });
    await until(a, retry.Id, (t) => t.State === 'Executing', 'running on l1');
    await until(a, once.Id, (t) => t.State === 'Executing', 'running on l1');
    await api(b.url, '/api/octopusservernodes/OctopusServerNodes-l2', { ...K, method: 'PUT', body: { MaxConcurrentTasks: 5 } });
    assert.equal(await a.kill('SIGTERM'), 0);
    const failed = await until(b, once.Id, (t) => t.IsCompleted, 'failed');
    assert.equal(failed.State, 'Failed');
    assert.match(failed.ErrorMessage, /Node l1 was shut down/);
    const moved = await until(b, retry.Id, (t) => t.State === 'Executing' && t.ServerNode === 'l2', 'running on l2');
    assert.equal(moved.Attempt, 2);
    await api(b.url, `/api/tasks/${retry.Id}/cancel`, { ...K, method: 'POST' });
    assert.equal((await until(b, retry.Id, (t) => t.IsCompleted, 'canceled')).State, 'Canceled');
    nodes[0] = await startNode(cluster.homes[0]!, 'l1', env);
  });

  it('drains a node with `cuttle node --drain true --wait --cancel-tasks`, cancelling what is still running', async () => {
    const [a, b] = nodes as [NodeProcess, NodeProcess];
    await api(a.url, '/api/octopusservernodes/OctopusServerNodes-l2', { ...K, method: 'PUT', body: { MaxConcurrentTasks: 0 } });
    const t = await queue(a, { Name: 'AdHocScript', Arguments: { ScriptBody: 'sleep 30' } });
    await until(a, t.Id, (x) => x.State === 'Executing', 'running on l1');
    const r = cuttle(['node', '--home', cluster.homes[0]!, '--drain', 'true', '--wait', '1', '--cancel-tasks']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Cancelled 1 task/);
    assert.equal((await until(b, t.Id, (x) => x.IsCompleted, 'canceled')).State, 'Canceled');
    assert.equal((await api(a.url, '/api/octopusservernodes/ping')).status, 418);
    assert.equal(cuttle(['node', '--home', cluster.homes[0]!, '--drain', 'false']).code, 0);
    await api(a.url, '/api/octopusservernodes/OctopusServerNodes-l2', { ...K, method: 'PUT', body: { MaxConcurrentTasks: 5 } });
  });

  it('runs the task-log retention job on one node at a time, and not while another holds it', async () => {
    // Two connections: `lock` holds the job's row lock in an open transaction, as a node running the
    // job would; `db` commits the setting and watches, so every node sees what it sees.
    const lock = new pg.Client({ connectionString: cluster.databaseUrl });
    const db = new pg.Client({ connectionString: cluster.databaseUrl });
    await Promise.all([lock.connect(), db.connect()]);
    const retentionRan = () => nodes.flatMap((n) => n.output().split('\n'))
      .filter((l) => l.includes('"job":"task-log-retention"') && l.includes('deleted the logs of'));
    try {
      const t = await queue(nodes[1]!, { Name: 'AdHocScript', Arguments: { ScriptBody: 'echo keep me for now; echo kept > out.txt; new_octopusartifact out.txt kept.txt' } });
      assert.equal((await until(nodes[1]!, t.Id, (x) => x.IsCompleted, 'done')).State, 'Success');
      const logDir = join(cluster.shared, 'TaskLogs', t.Id);
      const artifactDir = join(cluster.shared, 'Artifacts', t.Id);
      const artifacts = async () => (await api(nodes[0]!.url, `/api/Spaces-1/artifacts?regarding=${t.Id}`, K)).body.TotalResults;
      assert.ok(existsSync(logDir), 'the task wrote its log');
      assert.ok(existsSync(artifactDir), 'the task attached an artifact');
      assert.equal(await artifacts(), 1);
      assert.deepEqual(retentionRan(), [], 'with the default of 30 days the job has deleted nothing so far');

      await lock.query('BEGIN');
      const held = await lock.query(`SELECT last_run FROM scheduled_jobs WHERE name = 'task-log-retention' FOR UPDATE`);
      assert.equal(held.rowCount, 1, 'the nodes have created the job row');
      const lastRun = (held.rows[0].last_run as Date | null)?.getTime() ?? null;
      // Committed: from now on every node would delete every finished task's log, were the job not locked.
      await db.query(`INSERT INTO settings (key, value) VALUES ('task_log_retention_days', '0') ON CONFLICT (key) DO UPDATE SET value = '0'`);
      const old = (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM server_tasks WHERE completed_time IS NOT NULL AND NOT logs_deleted`)).rows[0]!.n;
      assert.ok(old >= 1);
      await new Promise((r) => setTimeout(r, 2_000)); // four job intervals
      const during = (await db.query<{ due: boolean; last_run: Date | null }>(`SELECT next_run <= now() AS due, last_run FROM scheduled_jobs WHERE name = 'task-log-retention'`)).rows[0]!;
      assert.ok(existsSync(logDir), 'the log survives while the lock is held');
      assert.ok(existsSync(artifactDir), 'the artifact survives while the lock is held');
      assert.equal(await artifacts(), 1);
      assert.equal((await db.query(`SELECT 1 FROM server_tasks WHERE logs_deleted`)).rowCount, 0);
      assert.deepEqual(retentionRan(), []);
      assert.equal(during.last_run?.getTime() ?? null, lastRun, 'no node ran the job while its lock was held elsewhere');
      assert.equal(during.due, true, 'the job was due all along; only the lock kept the nodes from it');

      await lock.query('ROLLBACK');
      await waitFor('retention to delete the old log and artifact', () => !existsSync(logDir) && !existsSync(artifactDir), 10_000);
      await waitFor('the job to finish its run', () => retentionRan().length > 0, 5_000);
      await new Promise((r) => setTimeout(r, 1_000)); // two more intervals: a second run would show now
      const runs = retentionRan();
      assert.equal(runs.length, 1, `exactly one node ran the deletion:\n${runs.join('\n')}`);
      assert.match(runs[0]!, new RegExp(`deleted the logs of ${old} task\\(s\\) older than 0 day\\(s\\)`));
      const job = (await db.query<{ last_node: string; last_run: Date }>(`SELECT last_node, last_run FROM scheduled_jobs WHERE name = 'task-log-retention'`)).rows[0]!;
      assert.ok(['l1', 'l2'].includes(job.last_node), job.last_node);
      assert.ok(lastRun === null || job.last_run.getTime() > lastRun, 'the job ran after the lock was released');
      assert.equal((await db.query(`SELECT 1 FROM server_tasks WHERE id = $1 AND logs_deleted`, [t.Id])).rowCount, 1);
      assert.equal(await artifacts(), 0, 'the artifact is gone from the API too');
      const raw = (await api(nodes[0]!.url, `/api/tasks/${t.Id}/raw`, K)).body as string;
      assert.doesNotMatch(raw, /keep me for now|== Attempt/, 'the log is gone from the API too');
    } finally {
      await lock.query('ROLLBACK').catch(() => undefined);
      // Back to the default, so the logs of later tests' tasks are kept.
      await db.query(`DELETE FROM settings WHERE key = 'task_log_retention_days'`).catch(() => undefined);
      await Promise.all([lock.end(), db.end()]);
    }
  });

  it('writes each attempt\'s log to its own file in the shared TaskLogs folder', async () => {
    const t = await queue(nodes[0]!, { Name: 'AdHocScript', Arguments: { ScriptBody: 'echo one' } });
    await until(nodes[0]!, t.Id, (x) => x.IsCompleted, 'done');
    const file = join(cluster.shared, 'TaskLogs', t.Id, 'attempt-1.log');
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    // Every line names its block: the script's output sits in a step block under the task.
    const step = lines.find((l) => l.k === 'start');
    assert.equal(step?.p, t.Id);
    assert.ok(lines.some((l) => l.c === 'Info' && l.m === 'one' && l.b === step.id));
    assert.ok(lines.some((l) => l.k === 'end' && l.id === step.id && l.s === 'Success'));
    assert.equal(lines[lines.length - 1].k, 'close', 'the writer closed the attempt');
    assert.ok(existsSync(join(cluster.shared, 'TaskLogs', t.Id, 'attempt-1.idx')), 'with its index beside it');
  });
});

describe('a lone node that restarts after SIGKILL', () => {
  it('settles the tasks of its previous life first: re-runs the re-runnable one, fails the other naming itself', async () => {
    const cluster = await readyCluster(['solo-r']);
    let node = await startNode(cluster.homes[0]!, 'solo-r');
    const retry = await queue(node, { Name: 'AdHocScript', RetryOnNodeFailure: true, Arguments: { ScriptBody: `[ -f ${cluster.root}/second ] || { touch ${cluster.root}/second; sleep 60; }` } });
    const once = await queue(node, { Name: 'AdHocScript', Arguments: { ScriptBody: 'sleep 60' } });
    await until(node, retry.Id, (t) => t.State === 'Executing', 'running');
    await until(node, once.Id, (t) => t.State === 'Executing', 'running');
    // Executing means claimed; wait until the first attempt's script has really begun.
    await waitFor('the first attempt to begin', () => existsSync(join(cluster.root, 'second')), 10_000);
    await node.kill('SIGKILL');
    node = await startNode(cluster.homes[0]!, 'solo-r');
    const restarted = node;
    try {
      const done = await until(node, retry.Id, (t) => t.IsCompleted, 're-run').catch(async (err) => {
        const t = (await api(restarted.url, `/api/tasks/${retry.Id}`, K)).body;
        throw new Error(`${(err as Error).message}; task ${JSON.stringify({ State: t.State, Attempt: t.Attempt, ServerNode: t.ServerNode })}; node log:\n${restarted.output().slice(-4000)}`);
      });
      assert.equal(done.State, 'Success');
      assert.equal(done.Attempt, 2);
      const failed = await until(node, once.Id, (t) => t.IsCompleted, 'failed');
      assert.equal(failed.State, 'Failed');
      assert.match(failed.ErrorMessage, /node solo-r/);
    } finally {
      await node.kill('SIGTERM');
    }
  });
});

describe('a node whose database connection for liveness is cut', () => {
  it('stops its running script at once, and the task runs again (re-runnable) while the node comes back online', async () => {
    const cluster = await readyCluster(['cut1', 'cut2']);
    const [a, b] = await Promise.all(['cut1', 'cut2'].map((n, i) => startNode(cluster.homes[i]!, n)));
    try {
      await api(a!.url, '/api/octopusservernodes/OctopusServerNodes-cut2', { ...K, method: 'PUT', body: { MaxConcurrentTasks: 0 } });
      const pidFile = join(cluster.root, 'cut.pid');
      const t = await queue(a!, { Name: 'AdHocScript', RetryOnNodeFailure: true,
        Arguments: { ScriptBody: `if [ ! -f ${pidFile} ]; then sleep 60 & ${recordPid(pidFile)}; wait; fi; echo attempt two` } });
      await until(a!, t.Id, (x) => x.State === 'Executing' && existsSync(pidFile), 'running');
      const script = readFileSync(pidFile, 'utf8');
      await api(a!.url, '/api/octopusservernodes/OctopusServerNodes-cut2', { ...K, method: 'PUT', body: { MaxConcurrentTasks: 5 } });
      const db = new pg.Client({ connectionString: cluster.databaseUrl });
      await db.connect();
      try {
        const r = await db.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'cuttle liveness cut1'`);
        assert.equal(r.rowCount, 1);
      } finally {
        await db.end();
      }
      await waitFor('the script of the cut-off node to be killed', () => !recordedRunning(script), 10_000);
      const done = await until(b!, t.Id, (x) => x.IsCompleted, 'finished', 20_000);
      assert.equal(done.State, 'Success', done.ErrorMessage);
      assert.equal(done.Attempt, 2);
      await waitFor('cut1 online again', async () => {
        const s = await api(b!.url, '/api/octopusservernodes/summary', K);
        return (s.body.Nodes as any[]).find((n) => n.Name === 'cut1')?.IsOffline === false;
      }, 10_000);
      assert.match(a!.output(), /liveness connection lost/);
    } finally {
      await Promise.all([a!.kill('SIGKILL'), b!.kill('SIGKILL')]);
    }
  });
});

describe('a node that is shutting down', () => {
  it('answers its ping with 503 during the shutdown grace period, so a load balancer stops sending it requests', async () => {
    const cluster = await readyCluster(['grace']);
    const node = await startNode(cluster.homes[0]!, 'grace', { CUTTLE_SHUTDOWN_GRACE_SECONDS: '5' });
    try {
      assert.equal((await api(node.url, '/api/octopusservernodes/ping')).status, 200);
      const t = await queue(node, { Name: 'AdHocScript', Arguments: { ScriptBody: 'sleep 30' } });
      await until(node, t.Id, (x) => x.State === 'Executing', 'running');
      node.child.kill('SIGTERM');
      await waitFor('the ping to answer 503', async () => (await api(node.url, '/api/octopusservernodes/ping').catch(() => ({ status: 0 }))).status === 503, 4_000, 20);
    } finally {
      await node.kill('SIGKILL');
    }
  });
});
