import assert from 'node:assert/strict';
import { describe, it, before, after } from 'node:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ADMIN_API_KEY, api, queueTask, recordPid, recordedRunning, untilTask, readyCluster, startNode, waitFor, type NodeProcess, type TestCluster } from './helpers.js';

const K = { apiKey: ADMIN_API_KEY };

const queue = queueTask;
const finished = (node: NodeProcess, id: string, timeoutMs = 30_000) => untilTask(node, id, (t) => t.IsCompleted, 'to finish', timeoutMs);

describe('server tasks on one node', () => {
  let cluster: TestCluster;
  let node: NodeProcess;
  before(async () => {
    cluster = await readyCluster(['solo']);
    node = await startNode(cluster.homes[0]!, 'solo');
  });
  after(async () => { await node.kill('SIGTERM'); });

  it('runs an ad-hoc Bash script and logs stdout as Info and stderr as Error', async () => {
    const t = await queue(node, { Name: 'AdHocScript', Arguments: { ScriptBody: 'echo hello from $CUTTLE_TASK_ID; echo oops >&2', Syntax: 'Bash' } });
    assert.equal(t.State, 'Queued');
    const done = await finished(node, t.Id);
    assert.equal(done.State, 'Success', done.ErrorMessage);
    assert.equal(done.ServerNode, 'solo');
    assert.equal(done.FinishedSuccessfully, true);
    // The task is the root of the tree; the script is one step under it, holding the script's output.
    const d = await api(node.url, `/api/tasks/${t.Id}/details`, K);
    const root = d.body.ActivityLogs[0];
    assert.equal(root.Id, t.Id);
    assert.equal(root.Status, 'SuccessWithWarning', 'stderr was logged as Error');
    assert.ok(root.LogElements.some((e: any) => e.MessageText === `Task ${t.Id} (${t.Description}) started on node solo, attempt 1`));
    assert.equal(root.Children.length, 1, 'one step under the task');
    const step = root.Children[0];
    assert.equal(step.Status, 'SuccessWithWarning');
    assert.ok(step.Started && step.Ended && step.ProgressPercentage === 100);
    const elements = step.LogElements as any[];
    assert.ok(elements.some((e) => e.Category === 'Info' && e.MessageText === `hello from ${t.Id}`));
    assert.ok(elements.some((e) => e.Category === 'Error' && e.MessageText === 'oops'));
    const raw = await api(node.url, `/api/Spaces-1/tasks/${t.Id}/raw`, K);
    assert.match(raw.body, new RegExp(`^ {20}\\| {3}${step.Name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\[SuccessWithWarning, [\\d.]+ m?s\\]$`, 'm'), 'the step has a header with its status and duration');
    assert.match(raw.body, /Info {5}\| {5}hello from/, 'the step\'s lines are indented under it');
    // tail=1: the step's last line, after a marker counting the one left out.
    const tail = (await api(node.url, `/api/tasks/${t.Id}/details?tail=1`, K)).body.ActivityLogs[0].Children[0].LogElements;
    assert.equal(tail.length, 2);
    assert.equal(tail[0].Category, 'Gap');
    assert.match(tail[0].MessageText, new RegExp(`^1 earlier log line not shown here: .*/api/Spaces-1/tasks/${t.Id}/raw\\.$`));
    assert.ok(['hello from', 'oops'].some((m) => tail[1].MessageText.startsWith(m)));
  });

  it('fails a script that exits non-zero, with the exit code in the error', async () => {
    const t = await queue(node, { Name: 'AdHocScript', Arguments: { ScriptBody: 'exit 3' } });
    const done = await finished(node, t.Id);
    assert.equal(done.State, 'Failed');
    assert.match(done.ErrorMessage, /code 3/);
  });

  it('ends a task over its timeout as TimedOut and kills its process tree', async () => {
    const pidFile = join(cluster.root, 'timeout.pid');
    const t = await queue(node, { Name: 'AdHocScript', Arguments: { ScriptBody: `sleep 60 & ${recordPid(pidFile)}; sleep 60; echo never`, TimeoutSeconds: 1 } });
    const done = await finished(node, t.Id, 15_000);
    assert.equal(done.State, 'TimedOut');
    assert.match(done.ErrorMessage, /timeout of 1 seconds/);
    const pid = readFileSync(pidFile, 'utf8');
    await waitFor('the background child to be killed', () => !recordedRunning(pid), 5_000);
  });

  it('keeps the node\'s own settings and secrets out of a script\'s environment', async () => {
    const t = await queue(node, { Name: 'AdHocScript', Arguments: { ScriptBody: 'env | grep ^CUTTLE_ | cut -d= -f1 | sort | tr "\\n" " "' } });
    const done = await finished(node, t.Id);
    assert.equal(done.State, 'Success');
    const raw = (await api(node.url, `/api/tasks/${t.Id}/raw`, K)).body as string;
    assert.match(raw, /CUTTLE_SERVER_NODE CUTTLE_TASK_ID/);
    assert.doesNotMatch(raw, /CUTTLE_LISTEN|CUTTLE_HEARTBEAT|CUTTLE_TEST/);
  });

  it('completes a Noop task with one log line', async () => {
    const t = await queue(node, { Name: 'Noop' });
    const done = await finished(node, t.Id);
    assert.equal(done.State, 'Success');
    // raw keeps one line per log element (block headers included), under a header per attempt.
    const raw = (await api(node.url, `/api/tasks/${t.Id}/raw`, K)).body as string;
    const lines = raw.split('\n');
    const attempt = lines.indexOf('== Attempt 1 ==');
    assert.ok(attempt > 0, `raw shows attempt 1:\n${raw}`);
    const logLines = lines.slice(attempt + 1).filter((l) => l.trim() !== '');
    assert.equal(logLines.length, 1, `exactly one log line:\n${raw}`);
    assert.match(logLines[0]!, /^\d\d:\d\d:\d\d {3}Info +\| +Noop task completed on node solo$/);
  });

  it('collects an artifact a script attaches and serves it for download', async () => {
    const t = await queue(node, { Name: 'AdHocScript', Arguments: { ScriptBody: 'echo "artifact body" > out.txt; new_octopusartifact out.txt report.txt' } });
    const done = await finished(node, t.Id);
    assert.equal(done.State, 'Success', done.ErrorMessage);
    const list = await api(node.url, `/api/Spaces-1/artifacts?regarding=${t.Id}`, K);
    assert.equal(list.body.TotalResults, 1);
    const a = list.body.Items[0];
    assert.equal(a.Filename, 'report.txt');
    const content = await fetch(`${node.url}/api/Spaces-1/artifacts/${a.Id}/content`, { headers: { 'X-Octopus-ApiKey': ADMIN_API_KEY } });
    assert.equal(await content.text(), 'artifact body\n');
  });

  it('cancels a queued task at once and re-runs a finished one as a new task', async () => {
    // A task behind a running one with the same concurrency tag stays queued, whatever the timing.
    const blocker = await queue(node, { Name: 'AdHocScript', ConcurrencyTag: 'cancel-test', Arguments: { ScriptBody: 'sleep 30' } });
    await waitFor('the blocker to run', async () => (await api(node.url, `/api/tasks/${blocker.Id}`, K)).body.State === 'Executing');
    const t = await queue(node, { Name: 'Noop', ConcurrencyTag: 'cancel-test' });
    assert.equal((await api(node.url, `/api/tasks/${t.Id}`, K)).body.State, 'Queued');
    const c = await api(node.url, `/api/tasks/${t.Id}/cancel`, { ...K, method: 'POST' });
    assert.equal(c.body.State, 'Canceled');
    assert.equal(c.body.StartTime, null);
    await api(node.url, `/api/tasks/${blocker.Id}/cancel`, { ...K, method: 'POST' });
    assert.equal((await finished(node, blocker.Id)).State, 'Canceled');
    const again = await api(node.url, `/api/tasks/rerun/${t.Id}`, { ...K, method: 'POST' });
    assert.equal(again.status, 201);
    assert.notEqual(again.body.Id, t.Id);
    assert.equal((await finished(node, again.body.Id)).State, 'Success');
    const twice = await api(node.url, `/api/tasks/${t.Id}/cancel`, { ...K, method: 'POST' });
    assert.equal(twice.status, 409);
  });

  it('rejects bad task requests with a clear 400 and queues nothing', async () => {
    const before = (await api(node.url, '/api/tasks?take=0', K)).body.TotalResults;
    const cases: object[] = [
      { Name: 'AdHocScript', Arguments: { ScriptBody: '' } },
      { Name: 'AdHocScript', Arguments: { ScriptBody: 'echo', Syntax: 'Cmd' } },
      { Name: 'AdHocScript', Arguments: { ScriptBody: 'echo', TimeoutSeconds: 'ten' } },
      { Name: 'DeleteEverything' },
      { Name: 5 },
      { Name: 'Noop', RetryOnNodeFailure: 'yes' },
      {},
    ];
    for (const body of cases) {
      const r = await api(node.url, '/api/tasks', { ...K, body });
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(typeof r.body.ErrorMessage, 'string');
      assert.ok(Array.isArray(r.body.Errors));
    }
    const bad = await api(node.url, '/api/tasks', { ...K, rawBody: '{"Name": "Noop",' });
    assert.equal(bad.status, 400);
    assert.equal((await api(node.url, '/api/tasks?states=Sleeping', K)).status, 400);
    assert.equal((await api(node.url, '/api/Spaces-9/tasks', K)).status, 404);
    assert.equal((await api(node.url, '/api/tasks/ServerTasks-999999', K)).status, 404);
    assert.equal((await api(node.url, '/api/tasks?take=0', K)).body.TotalResults, before);
  });

  it('filters the task list by state, name, node and ids', async () => {
    const t = await queue(node, { Name: 'Noop' });
    await finished(node, t.Id);
    const byIds = await api(node.url, `/api/tasks?ids=${t.Id}`, K);
    assert.deepEqual(byIds.body.Items.map((x: any) => x.Id), [t.Id]);
    const byName = await api(node.url, '/api/tasks?name=Noop&states=Success&node=solo&take=100', K);
    assert.ok(byName.body.Items.some((x: any) => x.Id === t.Id), 'the finished Noop is listed');
    assert.ok(byName.body.Items.every((x: any) => x.Name === 'Noop' && x.State === 'Success' && x.ServerNode === 'solo'));
    // Each filter really filters: the failed script of an earlier test is left out by state and by name.
    const failed = await api(node.url, '/api/tasks?states=Failed&take=100', K);
    assert.ok(failed.body.Items.length >= 1, 'an earlier test left a failed task');
    assert.ok(failed.body.Items.every((x: any) => x.State === 'Failed'));
    assert.ok(!failed.body.Items.some((x: any) => x.Id === t.Id));
    const scripts = await api(node.url, '/api/tasks?name=AdHocScript&take=100', K);
    assert.ok(scripts.body.Items.length >= 1 && scripts.body.Items.every((x: any) => x.Name === 'AdHocScript'));
    assert.equal((await api(node.url, '/api/tasks?node=nobody&take=100', K)).body.TotalResults, 0);
  });
});
