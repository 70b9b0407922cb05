// The task log as a tree: blocks written with the real writer into a running node's shared
// TaskLogs folder, read back through details, raw and the live stream over real HTTP.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, before, after } from 'node:test';
import pg from 'pg';
import { appendNote, Masker, TaskLogWriter } from '../src/tasks/log.js';
import { ADMIN_API_KEY, api, queueTask, readyCluster, startNode, tempDir, untilTask, type NodeProcess, type TestCluster } from './helpers.js';
import { markLogsDeleted } from '../src/tasks/queries.js';

const K = { apiKey: ADMIN_API_KEY };

async function writer(taskLogs: string, taskId: string, attempt: number, masker = new Masker()): Promise<TaskLogWriter> {
  return TaskLogWriter.open({ taskLogs, taskId, attempt, masker, onWritten: () => undefined, onFailure: (err) => { throw err; } });
}

interface SseEvent { id: string; event: string; data: any }

/** Reads Server-Sent Events until `stop` says so or the server ends the stream. */
async function readEvents(url: string, stop: (events: SseEvent[]) => boolean, lastEventId?: string): Promise<SseEvent[]> {
  const ac = new AbortController();
  const headers: Record<string, string> = { 'X-Octopus-ApiKey': ADMIN_API_KEY };
  if (lastEventId) headers['Last-Event-ID'] = lastEventId;
  const res = await fetch(url, { headers, signal: ac.signal });
  assert.equal(res.status, 200);
  const reader = res.body!.getReader();
  const events: SseEvent[] = [];
  let text = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return events;
      text += Buffer.from(value).toString();
      let cut: number;
      while ((cut = text.indexOf('\n\n')) >= 0) {
        const e: SseEvent = { id: '', event: '', data: undefined };
        for (const line of text.slice(0, cut).split('\n')) {
          if (line.startsWith('id: ')) e.id = line.slice(4);
          else if (line.startsWith('event: ')) e.event = line.slice(7);
          else if (line.startsWith('data: ')) e.data = JSON.parse(line.slice(6));
        }
        text = text.slice(cut + 2);
        events.push(e);
        if (stop(events)) return events;
      }
    }
  } finally {
    ac.abort();
  }
}

const names = (nodes: any[]) => nodes.map((n) => n.Name);
const texts = (node: any) => (node.LogElements as any[]).map((e) => e.MessageText);

describe('the task log as a tree, read through a running node', () => {
  let cluster: TestCluster;
  let node: NodeProcess;
  let db: pg.Client;
  let taskLogs: string;

  // A task row as the engine leaves it; `live` makes it Executing on the running node.
  async function insertTask(state: string, attempt: number, live = false): Promise<string> {
    const r = await db.query<{ id: string }>(
      `WITH s AS (SELECT nextval('server_tasks_seq') AS seq), n AS (SELECT id, epoch FROM nodes WHERE name = 'tree')
       INSERT INTO server_tasks (id, seq, name, description, state, start_time, completed_time, attempt, server_node, node_epoch, claim_token)
       SELECT 'ServerTasks-' || s.seq, s.seq, 'Noop', 'Log tree test', $1, now(), CASE WHEN $2 THEN NULL ELSE now() END, $3,
              n.id, CASE WHEN $2 THEN n.epoch END, CASE WHEN $2 THEN gen_random_uuid() END
       FROM s, n RETURNING id`, [state, live, attempt]);
    return r.rows[0]!.id;
  }

  before(async () => {
    cluster = await readyCluster(['tree']);
    node = await startNode(cluster.homes[0]!, 'tree');
    taskLogs = join(cluster.shared, 'TaskLogs');
    db = new pg.Client({ connectionString: cluster.databaseUrl });
    await db.connect();
  });
  after(async () => { await node.kill('SIGTERM'); await db.end(); });

  // Attempt 1 dies with a step open; recovery notes it; attempt 2 runs two steps, the first with an action.
  let treeTask: string;
  before(async () => {
    treeTask = await insertTask('Failed', 2);
    const a1 = await writer(taskLogs, treeTask, 1);
    await a1.root.info('attempt 1 begins');
    const lost = a1.root.child('Deploy');
    await lost.info('deploying, then the node dies');
    // No close: the node was killed here.
    await appendNote(taskLogs, treeTask, 1, 'Warning', 'Node n9 stopped responding during attempt 1; queued again.');
    const a2 = await writer(taskLogs, treeTask, 2);
    await a2.root.info('attempt 2 begins');
    const deploy = a2.root.child('Deploy');
    await deploy.info('deploy: first');
    await deploy.verbose('deploy: verbose detail');
    const action = deploy.child('Action A');
    for (let i = 0; i < 12; i++) void action.info(`action line ${i}`);
    await action.write('Trace', 'action trace');
    await action.warn('action warned');
    await action.end('Success');
    await deploy.info('deploy: last');
    await deploy.end('Success');
    const verify = a2.root.child('Verify');
    await verify.error('verification failed');
    await verify.end('Failed');
    await a2.root.info('attempt 2 ends');
    await a2.close();
  });

  it('folds both attempts, their nested blocks and recovery\'s note into one ActivityLogs tree', async () => {
    const d = (await api(node.url, `/api/tasks/${treeTask}/details`, K)).body;
    assert.equal(d.Task.Id, treeTask);
    assert.ok(d.PhysicalLogSize > 0);
    const root = d.ActivityLogs[0];
    assert.equal(root.Id, treeTask);
    assert.equal(root.Status, 'Failed');
    assert.deepEqual(texts(root), ['Attempt 1', 'attempt 1 begins', 'Node n9 stopped responding during attempt 1; queued again.', 'Attempt 2', 'attempt 2 begins', 'attempt 2 ends']);
    assert.deepEqual(names(root.Children), ['Deploy (attempt 1)', 'Deploy (attempt 2)', 'Verify (attempt 2)']);
    const [lost, deploy, verify] = root.Children;
    // Left open by an attempt that ended without closing it: Failed, not Running.
    assert.equal(lost.Status, 'Failed');
    assert.deepEqual(texts(lost), ['deploying, then the node dies']);
    assert.equal(deploy.Status, 'SuccessWithWarning', 'a warning below a block shows on it');
    assert.deepEqual(texts(deploy), ['deploy: first', 'deploy: last']);
    assert.ok(deploy.Started && deploy.Ended && deploy.ProgressPercentage === 100);
    assert.deepEqual(names(deploy.Children), ['Action A']);
    const action = deploy.Children[0];
    assert.equal(action.Status, 'SuccessWithWarning');
    assert.deepEqual(texts(action), [...Array.from({ length: 12 }, (_, i) => `action line ${i}`), 'action warned']);
    assert.equal(verify.Status, 'Failed');
    assert.deepEqual(verify.LogElements.map((e: any) => [e.Category, e.MessageText]), [['Error', 'verification failed']]);
    assert.equal(new Set([root.Id, lost.Id, deploy.Id, action.Id, verify.Id]).size, 5, 'block ids are unique across attempts');
  });

  it('keeps Verbose and Trace lines out of details unless verbose=true', async () => {
    const d = (await api(node.url, `/api/tasks/${treeTask}/details?verbose=true`, K)).body;
    const deploy = d.ActivityLogs[0].Children[1];
    assert.deepEqual(texts(deploy), ['deploy: first', 'deploy: verbose detail', 'deploy: last']);
    assert.ok(texts(deploy.Children[0]).includes('action trace'));
  });

  it('answers tail=N with the last N lines of every block and a marker counting the earlier ones', async () => {
    const d = (await api(node.url, `/api/Spaces-1/tasks/${treeTask}/details?tail=3`, K)).body;
    const root = d.ActivityLogs[0];
    const raw = `/api/Spaces-1/tasks/${treeTask}/raw`;
    const gap = (n: number) => new RegExp(`^${n} earlier log lines? not shown here: you asked for the last 3 lines of each block\\. The whole log is at ${raw.replace(/\//g, '\\/')}\\.$`);
    assert.equal(root.LogElements[0].Category, 'Gap');
    assert.match(root.LogElements[0].MessageText, gap(3));
    assert.deepEqual(texts(root).slice(1), ['Attempt 2', 'attempt 2 begins', 'attempt 2 ends']);
    const action = root.Children[1].Children[0];
    assert.match(action.LogElements[0].MessageText, gap(10));
    assert.deepEqual(texts(action).slice(1), ['action line 10', 'action line 11', 'action warned']);
    // Blocks with no more than N lines come whole, without a marker.
    assert.deepEqual(texts(root.Children[1]), ['deploy: first', 'deploy: last']);
    assert.deepEqual(texts(root.Children[0]), ['deploying, then the node dies']);
    const verbose = (await api(node.url, `/api/tasks/${treeTask}/details?tail=1&verbose=true`, K)).body;
    assert.deepEqual(texts(verbose.ActivityLogs[0].Children[1].Children[0]).slice(1), ['action warned']);
    assert.match(verbose.ActivityLogs[0].Children[1].Children[0].LogElements[0].MessageText, /^13 earlier log lines/);
  });

  it('caps details of a very long log with a marker saying how many lines were left out and where the rest is', async () => {
    const id = await insertTask('Success', 1);
    const w = await writer(taskLogs, id, 1);
    await w.root.info('first root line');
    const step = w.root.child('Chatty step');
    let last: Promise<void> = Promise.resolve();
    for (let i = 0; i < 25_000; i++) last = step.info(`line ${i}`);
    await last;
    await step.end('Success');
    await w.root.info('last root line');
    await w.close();
    const d = (await api(node.url, `/api/tasks/${id}/details`, K)).body;
    const root = d.ActivityLogs[0];
    assert.deepEqual(texts(root), ['first root line', 'last root line']);
    const elements = root.Children[0].LogElements as any[];
    const gaps = elements.filter((e) => e.Category === 'Gap');
    assert.equal(gaps.length, 1);
    const m = /^([\d,]+) log lines not shown here: details returns at most 20,000 lines \(8 MiB\) of a task's log\. The whole log is at \/api\/Spaces-1\/tasks\/ServerTasks-\d+\/raw\.$/.exec(gaps[0].MessageText);
    assert.ok(m, gaps[0].MessageText);
    const shown = elements.filter((e) => e.Category !== 'Gap').map((e) => Number(e.MessageText.slice(5)));
    assert.equal(shown.length + Number(m[1]!.replace(/,/g, '')), 25_000, 'shown + left out = all lines');
    assert.ok(shown.length + 2 <= 20_000);
    // The first lines, the marker where lines are missing, then the last lines, in order.
    const at = elements.indexOf(gaps[0]);
    assert.equal(shown[0], 0);
    assert.equal(shown[shown.length - 1], 24_999);
    assert.ok(shown.every((n, i) => i === 0 || n === shown[i - 1]! + (i === at ? Number(m[1]!.replace(/,/g, '')) + 1 : 1)), 'contiguous on each side of the marker');
  });

  it('reads an attempt without its index by scanning the log, with the same result', async () => {
    const read = async () => Promise.all(['details', 'details?tail=3', 'details?tail=1&verbose=true'].map(async (q) => (await api(node.url, `/api/tasks/${treeTask}/${q}`, K)).body.ActivityLogs));
    const indexed = await read();
    const dir = join(taskLogs, treeTask);
    for (const k of [1, 2]) renameSync(join(dir, `attempt-${k}.idx`), join(dir, `attempt-${k}.idx.away`));
    try {
      assert.deepEqual(await read(), indexed);
    } finally {
      for (const k of [1, 2]) renameSync(join(dir, `attempt-${k}.idx.away`), join(dir, `attempt-${k}.idx`));
    }
  });

  it('shows a block left open by a canceled attempt as Canceled, and lines written before there were blocks as lines of the task', async () => {
    const canceled = await insertTask('Canceled', 1);
    const w = await writer(taskLogs, canceled, 1);
    await w.root.child('Interrupted step').info('was running when the task was canceled');
    const tree = (await api(node.url, `/api/tasks/${canceled}/details`, K)).body.ActivityLogs[0];
    assert.deepEqual(tree.Children.map((c: any) => [c.Name, c.Status]), [['Interrupted step', 'Canceled']]);

    const legacy = await insertTask('Success', 1);
    mkdirSync(join(taskLogs, legacy));
    writeFileSync(join(taskLogs, legacy, 'attempt-1.log'), ['one', 'two'].map((m) => JSON.stringify({ t: '2024-05-01T10:00:00.000Z', c: 'Info', m })).join('\n') + '\n');
    const old = (await api(node.url, `/api/tasks/${legacy}/details?tail=1`, K)).body.ActivityLogs[0];
    assert.deepEqual(texts(old).slice(1), ['two']);
    assert.equal(old.Children.length, 0);
    const raw = (await api(node.url, `/api/tasks/${legacy}/raw`, K)).body as string;
    assert.match(raw, /== Attempt 1 ==\n10:00:00 {3}Info {5}\| one\n10:00:00 {3}Info {5}\| two\n$/);
  });

  it('prints raw with the task header, a header per attempt and recovery note, and indented block headers with status', async () => {
    const raw = (await api(node.url, `/api/tasks/${treeTask}/raw`, K)).body as string;
    const lines = raw.replace(/^\d\d:\d\d:\d\d {3}/gm, 'TIME   ').replace(/, [\d.]+ (ms|s)\]/g, ', D]').split('\n');
    const from = lines.indexOf('== Attempt 1 ==');
    assert.ok(lines[0]!.startsWith(`Task ID:        ${treeTask}`) && lines.includes('Task status:    Failed'));
    assert.deepEqual(lines.slice(from), [
      '== Attempt 1 ==',
      'TIME   Info     | attempt 1 begins',
      '                    |   Deploy [Failed: the attempt ended before the block did]',
      'TIME   Info     |     deploying, then the node dies',
      '== Recovery after attempt 1 ==',
      'TIME   Warning  | Node n9 stopped responding during attempt 1; queued again.',
      '== Attempt 2 ==',
      'TIME   Info     | attempt 2 begins',
      '                    |   Deploy [SuccessWithWarning, D]',
      'TIME   Info     |     deploy: first',
      'TIME   Verbose  |     deploy: verbose detail',
      '                    |     Action A [SuccessWithWarning, D]',
      ...Array.from({ length: 12 }, (_, i) => `TIME   Info     |       action line ${i}`),
      'TIME   Trace    |       action trace',
      'TIME   Warning  |       action warned',
      'TIME   Info     |     deploy: last',
      '                    |   Verify [Failed, D]',
      'TIME   Error    |     verification failed',
      'TIME   Info     | attempt 2 ends',
      '',
    ]);
  });

  it('streams block and log events while a task runs, ends when it is final, and resumes from Last-Event-ID', async () => {
    const id = await insertTask('Executing', 1, true);
    const url = `${node.url}/api/tasks/${id}/log/stream`;
    const w = await writer(taskLogs, id, 1);
    await w.root.info('live root line');
    const step = w.root.child('Live step');
    await step.info('live step line');
    // Open in the running attempt: Running, in details too.
    const running = (await api(node.url, `/api/tasks/${id}/details`, K)).body.ActivityLogs[0];
    assert.equal(running.Children[0].Status, 'Running');
    assert.equal(running.Children[0].ProgressPercentage, 0);
    const live = readEvents(url, (ev) => ev.some((e) => e.event === 'end'));
    const started = await readEvents(url, (ev) => ev.some((e) => e.event === 'log' && e.data.LogElements.some((l: any) => l.MessageText === 'live step line')));
    const block = started.find((e) => e.event === 'block')!;
    assert.deepEqual({ ...block.data, OccurredAt: undefined }, { Event: 'Started', Id: `${id}_1_1`, ParentId: id, Name: 'Live step', Status: 'Running', OccurredAt: undefined, Attempt: 1 });
    const action = step.child('Live action');
    for (let i = 0; i < 5; i++) await action.info(`action ${i}`);
    // Elements are copied from the file as bytes: escapes, non-ASCII text and details must survive.
    const tricky = 'quote " back\\ slash \\", é 日本 😀 \u0001 tab\t end\\';
    await action.write('Warning', tricky, 'detail "d"\n second line\\');
    await action.end('Failed');
    await step.end('Failed');
    await w.close();
    await db.query(`UPDATE server_tasks SET state = 'Failed', completed_time = now(), claim_token = NULL WHERE id = $1`, [id]);
    const all = await live;
    const kinds = all.map((e) => e.event);
    assert.equal(kinds[kinds.length - 1], 'end');
    assert.ok(kinds.includes('state'));
    const blocks = all.filter((e) => e.event === 'block').map((e) => `${e.data.Event} ${e.data.Name} ${e.data.Status} ${e.data.ParentId}`);
    assert.deepEqual(blocks, [`Started Live step Running ${id}`, `Started Live action Running ${id}_1_1`, `Ended Live action Failed ${id}_1_1`, `Ended Live step Failed ${id}`]);
    const logs = all.filter((e) => e.event === 'log').flatMap((e) => e.data.LogElements.map((l: any) => `${e.data.BlockId}: ${l.MessageText}`));
    assert.deepEqual(logs, [`${id}: live root line`, `${id}_1_1: live step line`, ...[0, 1, 2, 3, 4].map((i) => `${id}_1_2: action ${i}`), `${id}_1_2: ${tricky}`]);
    const warning = all.filter((e) => e.event === 'log').flatMap((e) => e.data.LogElements).find((l: any) => l.Category === 'Warning');
    assert.deepEqual(warning, { Category: 'Warning', OccurredAt: warning.OccurredAt, MessageText: tricky, Detail: 'detail "d"\n second line\\' });
    assert.ok(all.every((e) => /^a1:\d+$/.test(e.id)), 'every event carries a cursor');

    // A client that drops after the third event and reconnects with its id misses nothing and repeats nothing.
    const content = (ev: SseEvent[]) => ev.filter((e) => e.event === 'log' || e.event === 'block').map((e) => JSON.stringify(e.data));
    const first = await readEvents(url, (ev) => ev.filter((e) => e.event !== 'state').length === 3);
    const cursor = first[first.length - 1]!.id;
    const rest = await readEvents(url, (ev) => ev.some((e) => e.event === 'end'), cursor);
    assert.deepEqual([...content(first), ...content(rest)], content(all));
    assert.ok(content(rest).length > 0);
  });
  it('keeps a log written whole as its task ends in the task\'s row: no folder, and details, raw and the stream read it', async () => {
    const t = await queueTask(node, { Name: 'Noop' });
    // The stream is opened before the task runs: it must end with the line, read from the row.
    const url = `${node.url}/api/tasks/${t.Id}/log/stream`;
    const streamed = readEvents(url, (ev) => ev.some((e) => e.event === 'end'));
    const done = await untilTask(node, t.Id, (x) => x.IsCompleted, 'to finish', 30_000);
    assert.equal(done.State, 'Success');
    assert.ok(!existsSync(join(taskLogs, t.Id)), 'no folder was made for the Noop\'s one line');
    const stored = (await db.query<{ inline_log: string | null }>('SELECT inline_log FROM server_tasks WHERE id = $1', [t.Id])).rows[0]!.inline_log;
    assert.match(stored ?? '', /Noop task completed on node tree/);
    const line = 'Noop task completed on node tree';
    const root = (await api(node.url, `/api/tasks/${t.Id}/details`, K)).body.ActivityLogs[0];
    assert.deepEqual(root.LogElements.map((e: any) => e.MessageText), [line]);
    const tail = (await api(node.url, `/api/tasks/${t.Id}/details?tail=1`, K)).body.ActivityLogs[0];
    assert.deepEqual(tail.LogElements.map((e: any) => e.MessageText), [line]);
    assert.match((await api(node.url, `/api/tasks/${t.Id}/raw`, K)).body, new RegExp(`== Attempt 1 ==\n\\d\\d:\\d\\d:\\d\\d {3}Info +\\| +${line}\n`));
    const events = await streamed;
    assert.deepEqual(events.filter((e) => e.event === 'log').flatMap((e) => e.data.LogElements.map((l: any) => l.MessageText)), [line]);
    // Retention forgets it with the task's files.
    await db.query(`UPDATE server_tasks SET completed_time = now() - interval '40 days' WHERE id = $1`, [t.Id]);
    assert.ok((await markLogsDeleted(db, 30, 1000)).includes(t.Id));
    assert.equal((await db.query('SELECT inline_log FROM server_tasks WHERE id = $1', [t.Id])).rows[0].inline_log, null);
    assert.doesNotMatch((await api(node.url, `/api/tasks/${t.Id}/raw`, K)).body, /Noop task completed/);
  });
});

describe('masking sensitive values that span lines', () => {
  it('masks a multi-line value written as one message, line by line as a script prints it, and values added later', async () => {
    const taskLogs = tempDir('cuttle-mask-');
    const secret = '-----BEGIN KEY-----\nMIIEowIBAAKCAQEA7x\r\nab\nQ2hhbmdlIG1lIHBsZWFzZQ==\n-----END KEY-----';
    const masker = new Masker([secret, 'abc']);
    const w = await writer(taskLogs, 'ServerTasks-77', 1, masker);
    const step = w.root.child('Uses the key');
    await step.info(`key is ${secret} (end)`);
    for (const line of secret.split(/\r?\n/)) await step.info(line);
    await step.info('  MIIEowIBAAKCAQEA7x  indented by the script');
    await step.info('short parts stay: ab, abc');
    masker.add(['decrypted-later']);
    await step.write('Error', 'failed with decrypted-later', 'detail: Q2hhbmdlIG1lIHBsZWFzZQ==');
    await step.end('Success');
    await w.close();
    const text = readFileSync(join(taskLogs, 'ServerTasks-77', 'attempt-1.log'), 'utf8');
    for (const part of ['MIIEowIBAAKCAQEA7x', 'Q2hhbmdlIG1lIHBsZWFzZQ==', 'BEGIN KEY', 'END KEY', 'decrypted-later']) assert.ok(!text.includes(part), `${part} is masked`);
    const lines = text.trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.m !== undefined).map((r) => r.m + (r.d ? ` | ${r.d}` : ''));
    assert.deepEqual(lines, [
      'key is ******** (end)',
      '********', '********', 'ab', '********', '********',
      '  ********  indented by the script',
      'short parts stay: ab, abc',
      'failed with ******** | detail: ********',
    ]);
  });

  it('cuts one huge line to 64 KiB with a visible marker', async () => {
    const taskLogs = tempDir('cuttle-cap-');
    const w = await writer(taskLogs, 'ServerTasks-78', 1);
    await w.root.info('x'.repeat(1_000_000));
    await w.close();
    const first = JSON.parse(readFileSync(join(taskLogs, 'ServerTasks-78', 'attempt-1.log'), 'utf8').split('\n')[0]!);
    assert.equal(first.m.length, 64 * 1024 + '… [truncated: 934464 more characters]'.length);
    assert.ok(first.m.endsWith('… [truncated: 934464 more characters]'));
  });
});

