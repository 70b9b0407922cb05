import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, before, after } from 'node:test';
import { ADMIN_API_KEY, api, queueTask, recordPid, recordedRunning, untilTask, readyCluster, startNode, waitFor, type NodeProcess, type TestCluster } from './helpers.js';

const K = { apiKey: ADMIN_API_KEY };

const queue = queueTask;
const until = (node: NodeProcess, id: string, pred: (t: any) => boolean, what: string, timeoutMs = 30_000) => untilTask(node, id, pred, what, timeoutMs);

async function task(node: NodeProcess, id: string): Promise<any> {
  return (await api(node.url, `/api/tasks/${id}`, K)).body;
}

// Pids as a script records them (it may run in a PID namespace of its own).
const alive = recordedRunning;

async function setNode(node: NodeProcess, name: string, body: object): Promise<void> {
  const r = await api(node.url, `/api/octopusservernodes/OctopusServerNodes-${name}`, { ...K, method: 'PUT', body });
  assert.equal(r.status, 200);
}

describe('server tasks across a four-node cluster', () => {
  let cluster: TestCluster;
  let nodes: NodeProcess[];
  const names = ['n1', 'n2', 'n3', 'n4'];
  let work: string;

  before(async () => {
    cluster = await readyCluster(names);
    nodes = await Promise.all(names.map((n, i) => startNode(cluster.homes[i]!, n)));
    work = join(cluster.root, 'work');
    mkdirSync(work);
  });
  after(async () => { await Promise.all(nodes.map((n) => n.kill('SIGKILL'))); });

  it('runs 200 scripts queued on every node exactly once each, never above any node\'s task cap', async () => {
    const ids: string[] = [];
    const script = `d=${work}/conc/$CUTTLE_SERVER_NODE; mkdir -p $d; touch $d/$CUTTLE_TASK_ID
ls $d | wc -l >> ${work}/conc/max-$CUTTLE_SERVER_NODE
sleep 0.05; rm $d/$CUTTLE_TASK_ID; echo $CUTTLE_TASK_ID >> ${work}/ids`;
    const batches = await Promise.all(nodes.map(async (n) => {
      const mine: string[] = [];
      for (let i = 0; i < 50; i++) mine.push((await queue(n, { Name: 'AdHocScript', Arguments: { ScriptBody: script } })).Id);
      return mine;
    }));
    for (const b of batches) ids.push(...b);
    await waitFor('all 200 tasks to finish', async () => {
      const r = await api(nodes[0]!.url, `/api/tasks?states=Queued,Executing,Cancelling&take=0`, K);
      return r.body.TotalResults === 0;
    }, 120_000, 200);
    const r = await api(nodes[1]!.url, `/api/tasks?ids=${ids.join(',')}&take=1000`, K);
    assert.equal(r.body.TotalResults, 200);
    assert.equal(r.body.Items.length, 200);
    assert.ok(r.body.Items.every((t: any) => t.State === 'Success'), 'every task succeeded');
    const ran = readFileSync(join(work, 'ids'), 'utf8').trim().split('\n').sort();
    assert.deepEqual(ran, [...ids].sort(), 'each task ran exactly once');
    const perNode = new Map<string, number>();
    for (const t of r.body.Items) perNode.set(t.ServerNode, (perNode.get(t.ServerNode) ?? 0) + 1);
    process.stdout.write(`# tasks per node: ${JSON.stringify(Object.fromEntries(perNode))}\n`);
    assert.ok(perNode.size >= 2, 'work spread over more than one node');
    let sampled = 0;
    for (const n of names) {
      // A node that ran tasks left one sample per task; a node that ran none left no file.
      const f = join(work, 'conc', `max-${n}`);
      assert.equal(existsSync(f), perNode.has(n), `samples of ${n}`);
      if (!perNode.has(n)) continue;
      const samples = readFileSync(f, 'utf8').trim().split('\n').map(Number);
      assert.equal(samples.length, perNode.get(n), `one sample per task ${n} ran`);
      sampled += samples.length;
      const max = Math.max(...samples);
      assert.ok(max >= 1 && max <= 5, `${n} ran ${max} tasks at once, above its cap of 5`);
    }
    assert.equal(sampled, 200, 'every task sampled its node\'s concurrency');
  });

  it('spreads 20 long tasks 5 per node, and a drained node or a node with cap 0 takes none', async () => {
    // Each task runs until the test opens the gate, so all 20 are running at once however slowly the
    // machine starts them (a fixed sleep let the first finish before the last began on a busy machine).
    const gate = join(work, 'spread-gate');
    const long = { Name: 'AdHocScript', Arguments: { ScriptBody: `until [ -e ${gate} ]; do sleep 0.1; done` } };
    const ids: string[] = [];
    try {
      for (let i = 0; i < 20; i++) ids.push((await queue(nodes[i % 4]!, long)).Id);
      const items: any[] = await waitFor('20 tasks executing', async () => {
        const r = await api(nodes[0]!.url, `/api/tasks?ids=${ids.join(',')}&states=Executing&take=100`, K);
        // Items, not TotalResults: the list's count is a separate statement and may see rows its page did not.
        return r.body.Items.length === 20 ? r.body.Items : undefined;
      }, 20_000, 50);
      const per: Record<string, number> = {};
      for (const t of items) per[t.ServerNode] = (per[t.ServerNode] ?? 0) + 1;
      assert.deepEqual(per, { n1: 5, n2: 5, n3: 5, n4: 5 }, JSON.stringify(items.map((t) => [t.Id, t.ServerNode, t.State])));
    } finally {
      writeFileSync(gate, ''); // a failure here must not leave 20 tasks holding every node's slots
    }
    await waitFor('long tasks done', async () => (await api(nodes[0]!.url, `/api/tasks?ids=${ids.join(',')}&states=Success&take=0`, K)).body.TotalResults === 20, 30_000, 100);

    await setNode(nodes[0]!, 'n4', { IsInMaintenanceMode: true });
    await setNode(nodes[0]!, 'n3', { MaxConcurrentTasks: 0 });
    const more: string[] = [];
    for (let i = 0; i < 12; i++) more.push((await queue(nodes[3]!, { Name: 'AdHocScript', Arguments: { ScriptBody: 'sleep 0.2' } })).Id);
    await waitFor('tasks done', async () => (await api(nodes[0]!.url, `/api/tasks?ids=${more.join(',')}&states=Success&take=0`, K)).body.TotalResults === 12, 30_000, 100);
    const r = await api(nodes[0]!.url, `/api/tasks?ids=${more.join(',')}&take=100`, K);
    assert.equal(r.body.Items.length, 12);
    assert.ok(r.body.Items.every((t: any) => t.ServerNode === 'n1' || t.ServerNode === 'n2'), 'only undrained nodes with capacity ran tasks');
    await setNode(nodes[0]!, 'n4', { IsInMaintenanceMode: false });
    await setNode(nodes[0]!, 'n3', { MaxConcurrentTasks: 5 });
  });

  it('cancels, from another node, a task running on one node: the whole process tree stops', async () => {
    const pidFile = join(work, 'cancel.pid');
    const t = await queue(nodes[0]!, { Name: 'AdHocScript', Arguments: { ScriptBody: `sleep 60 & ${recordPid(pidFile)}; wait` } });
    const running = await until(nodes[0]!, t.Id, (x) => x.State === 'Executing' && existsSync(pidFile), 'running');
    const other = nodes.find((n) => n.name !== running.ServerNode)!;
    const sleeper = readFileSync(pidFile, 'utf8');
    assert.ok(alive(sleeper));
    const started = Date.now();
    const c = await api(other.url, `/api/tasks/${t.Id}/cancel`, { ...K, method: 'POST' });
    assert.equal(c.status, 200);
    assert.ok(['Cancelling', 'Canceled'].includes(c.body.State));
    const done = await until(other, t.Id, (x) => x.IsCompleted, 'canceled', 10_000);
    assert.equal(done.State, 'Canceled');
    process.stdout.write(`# cancel from another node took ${Date.now() - started} ms\n`);
    await waitFor('the script\'s child to die', () => !alive(sleeper), 5_000);
  });

  it('never runs two tasks with the same concurrency tag at once, and runs them in queue order', async () => {
    const log = join(work, 'tag.log');
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      ids.push((await queue(nodes[i % 4]!, { Name: 'AdHocScript', ConcurrencyTag: 'Projects-1/Environments-1',
        Arguments: { ScriptBody: `echo "start $CUTTLE_TASK_ID" >> ${log}; sleep 0.2; echo "end $CUTTLE_TASK_ID" >> ${log}` } })).Id);
    }
    await waitFor('tagged tasks done', async () => (await api(nodes[0]!.url, `/api/tasks?ids=${ids.join(',')}&states=Success&take=0`, K)).body.TotalResults === 6, 30_000, 100);
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    const expected = ids.flatMap((id) => [`start ${id}`, `end ${id}`]);
    assert.deepEqual(lines, expected);
  });

  it('streams a task\'s log live from a node that is not running it', async () => {
    await setNode(nodes[0]!, 'n2', { MaxConcurrentTasks: 0 });
    const t = await queue(nodes[1]!, { Name: 'AdHocScript', Arguments: { ScriptBody: 'for i in 1 2 3 4 5; do echo "line $i"; sleep 0.3; done' } });
    const ac = new AbortController();
    const res = await fetch(`${nodes[1]!.url}/api/tasks/${t.Id}/log/stream`, { headers: { 'X-Octopus-ApiKey': ADMIN_API_KEY }, signal: ac.signal });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('octopus-node'), 'n2');
    const reader = res.body!.getReader();
    let text = '';
    let sawLineWhileRunning = false;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString();
      if (!sawLineWhileRunning && text.includes('line 2')) {
        const now = await task(nodes[0]!, t.Id);
        sawLineWhileRunning = now.State === 'Executing';
        assert.notEqual(now.ServerNode, 'n2');
      }
      if (text.includes('event: end')) break;
    }
    ac.abort();
    assert.ok(sawLineWhileRunning, 'a log line arrived while the task was still running');
    for (let i = 1; i <= 5; i++) assert.ok(text.includes(`line ${i}`));
    assert.match(text, /"State":"Success"/);
    // The script's step arrives as block events, and every event carries a cursor to resume from.
    const events = text.split('\n\n').filter((e) => e.includes('event: '));
    assert.match(text, new RegExp(`event: block\\ndata: \\{"Event":"Started","Id":"${t.Id}_1_1","ParentId":"${t.Id}","Name":"[^"]+","Status":"Running"`));
    assert.match(text, new RegExp(`event: block\\ndata: \\{"Event":"Ended","Id":"${t.Id}_1_1","ParentId":"${t.Id}","Name":"[^"]+","Status":"Success"`));
    assert.match(text, new RegExp(`"BlockId":"${t.Id}_1_1","LogElements":\\[\\{"Category":"Info","OccurredAt":"[^"]+","MessageText":"line 1"`));
    assert.ok(events.filter((e) => /event: (log|block)/.test(e)).every((e) => /^id: a1:\d+\n/.test(e)), 'every log and block event has an id');
    await setNode(nodes[0]!, 'n2', { MaxConcurrentTasks: 5 });
  });

  it('re-queues a re-runnable task of a node killed with SIGKILL, kills its orphaned script, and finishes it elsewhere within seconds', async () => {
    const pidFile = join(work, 'victim.pid');
    const t = await queue(nodes[0]!, { Name: 'AdHocScript', RetryOnNodeFailure: true,
      Arguments: { ScriptBody: `if [ ! -f ${pidFile} ]; then sleep 60 & ${recordPid(pidFile)}; wait; fi; echo second attempt on $CUTTLE_SERVER_NODE` } });
    const running = await until(nodes[0]!, t.Id, (x) => x.State === 'Executing' && existsSync(pidFile), 'running');
    const victim = nodes.find((n) => n.name === running.ServerNode)!;
    const survivor = nodes.find((n) => n !== victim)!;
    const orphan = readFileSync(pidFile, 'utf8');
    await victim.kill('SIGKILL');
    const killed = Date.now();
    const done = await until(survivor, t.Id, (x) => x.IsCompleted, 'finished elsewhere', 15_000);
    const ms = Date.now() - killed;
    process.stdout.write(`# SIGKILL to re-queued task finished on another node: ${ms} ms\n`);
    assert.equal(done.State, 'Success', done.ErrorMessage);
    assert.notEqual(done.ServerNode, victim.name);
    assert.equal(done.Attempt, 2);
    assert.ok(ms < 10_000);
    await waitFor('the orphaned script to be killed', () => !alive(orphan), 5_000);
    const raw = (await api(survivor.url, `/api/tasks/${t.Id}/raw`, K)).body as string;
    assert.match(raw, new RegExp(`Node ${victim.name} stopped responding`));
    assert.match(raw, /second attempt on/);
    assert.match(raw, /^== Attempt 1 ==$[\s\S]*^== Recovery after attempt 1 ==$[\s\S]*^== Attempt 2 ==$/m);
    // The step the dead node left open ends Failed in the tree; the re-run's step succeeded.
    const tree = (await api(survivor.url, `/api/tasks/${t.Id}/details`, K)).body.ActivityLogs[0];
    assert.deepEqual(tree.Children.map((c: any) => [c.Name.replace(/.* \(attempt (\d)\)$/, 'attempt $1'), c.Status]), [['attempt 1', 'Failed'], ['attempt 2', 'Success']]);
    assert.ok(tree.LogElements.some((e: any) => e.MessageText.startsWith(`Node ${victim.name} stopped responding`)), 'recovery\'s note is a line of the task');
    nodes = nodes.filter((n) => n !== victim);
  });

  it('fails a task that is not safe to re-run when its node dies, naming the node', async () => {
    const marker = join(work, 'nonretry.pid');
    const t = await queue(nodes[0]!, { Name: 'AdHocScript', Arguments: { ScriptBody: `echo $$ > ${marker}; sleep 60` } });
    const running = await until(nodes[0]!, t.Id, (x) => x.State === 'Executing' && existsSync(marker), 'running');
    const victim = nodes.find((n) => n.name === running.ServerNode)!;
    const survivor = nodes.find((n) => n !== victim)!;
    await victim.kill('SIGKILL');
    const killed = Date.now();
    const done = await until(survivor, t.Id, (x) => x.IsCompleted, 'failed', 10_000);
    process.stdout.write(`# SIGKILL to task failed: ${Date.now() - killed} ms\n`);
    assert.equal(done.State, 'Failed');
    assert.match(done.ErrorMessage, new RegExp(`node ${victim.name}.*last seen`));
    nodes = nodes.filter((n) => n !== victim);
  });
});

describe('a shared task-log folder that turns read-only mid-run', { skip: process.getuid?.() !== 0 ? 'needs root for a read-only bind mount' : false }, () => {
  let cluster: TestCluster;
  let node: NodeProcess;
  let mounted = false;
  let taskLogs: string;
  before(async () => {
    cluster = await readyCluster(['ro']);
    node = await startNode(cluster.homes[0]!, 'ro');
    taskLogs = join(cluster.shared, 'TaskLogs');
  });
  after(async () => {
    if (mounted) try { execFileSync('umount', [taskLogs]); } catch { /* already gone */ }
    await node.kill('SIGKILL');
  });

  it('fails the task with the reason, and the node stays up', async () => {
    const t = await queue(node, { Name: 'AdHocScript', Arguments: { ScriptBody: 'for i in $(seq 1 100); do echo "tick $i"; sleep 0.1; done' } });
    await waitFor('first log lines', () => {
      try { return readFileSync(join(taskLogs, t.Id, 'attempt-1.log'), 'utf8').includes('tick 2'); } catch { return false; }
    }, 10_000);
    execFileSync('mount', ['--bind', taskLogs, taskLogs]);
    mounted = true;
    // The node appends to the log every 0.1 s: a remount that lands while a file is open for
    // writing is refused as busy, so try again at once (the append holds the file for microseconds).
    await waitFor('the share to turn read-only', () => {
      try { execFileSync('mount', ['-o', 'remount,ro,bind', taskLogs], { stdio: 'pipe' }); return true; } catch { return false; }
    }, 10_000, 5);
    const done = await until(node, t.Id, (x) => x.IsCompleted, 'failed', 15_000);
    assert.equal(done.State, 'Failed');
    assert.match(done.ErrorMessage, /Could not write the task log .*(read-only|EROFS)/);
    assert.equal((await api(node.url, '/api/octopusservernodes/ping')).status, 200);
    execFileSync('umount', [taskLogs]);
    mounted = false;
    const ok = await queue(node, { Name: 'Noop' });
    assert.equal((await until(node, ok.Id, (x) => x.IsCompleted, 'done', 20_000)).State, 'Success');
  });
});
