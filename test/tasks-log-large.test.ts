// The memory proof: a 200 MB task log read at once through every reader, on a real node, while its
// memory and heartbeat are watched. Every read of the log must be bounded.
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, before, after } from 'node:test';
import pg from 'pg';
import { Masker, TaskLogWriter } from '../src/tasks/log.js';
import { ADMIN_API_KEY, readyCluster, startNode, type NodeProcess, type TestCluster } from './helpers.js';

const MB = 1024 * 1024;
const headers = { 'X-Octopus-ApiKey': ADMIN_API_KEY };

/** ~`bytes` of log in the real format, written by the real writer: steps, each with an action. */
async function writeBigLog(taskLogs: string, taskId: string, bytes: number): Promise<number> {
  const w = await TaskLogWriter.open({ taskLogs, taskId, attempt: 1, masker: new Masker(), onWritten: () => undefined, onFailure: (err) => { throw err; } });
  const filler = 'x'.repeat(240);
  await w.root.info('Task started');
  let written = 0;
  let steps = 0;
  while (written < bytes) {
    const step = w.root.child(`Step ${++steps}`);
    await step.info(`step ${steps} begins`);
    const action = step.child(`Action ${steps}.1`);
    let last: Promise<void> = Promise.resolve();
    for (let i = 0; i < 20_000 && written < bytes; i++) {
      last = i % 10 === 0 ? action.verbose(`verbose ${i} ${filler}`) : action.info(`line ${steps}.${i} ${filler}`);
      written += 330;
      if (i % 2_000 === 1_999) await last; // in batches, so the writer never holds much
    }
    await last;
    await action.end('Success');
    await step.end(steps % 5 === 0 ? 'Failed' : 'Success');
  }
  await w.root.info('Task finished');
  await w.close();
  return steps;
}

/** CPU seconds a process has used (user + system). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

/** Reads a response to its end, keeping only its size and its last bytes. */
async function drain(res: Response): Promise<{ bytes: number; tail: string }> {
  const reader = res.body!.getReader();
  let bytes = 0;
  let tail = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return { bytes, tail };
    bytes += value.length;
    tail = (tail + Buffer.from(value.subarray(Math.max(0, value.length - 200))).toString()).slice(-200);
  }
}

describe('a 200 MB task log read at once by raw, details, details?tail=10 and eight live-stream viewers', () => {
  let cluster: TestCluster;
  let node: NodeProcess;
  let db: pg.Client;
  before(async () => {
    cluster = await readyCluster(['big']);
    node = await startNode(cluster.homes[0]!, 'big');
    db = new pg.Client({ connectionString: cluster.databaseUrl });
    await db.connect();
  });
  after(async () => { await node.kill('SIGTERM'); await db.end(); });

  it('keeps the serving node under 300 MB of memory, and online, while every reader reads the whole log', async () => {
    const id = (await db.query<{ id: string }>(
      `WITH s AS (SELECT nextval('server_tasks_seq') AS seq)
       INSERT INTO server_tasks (id, seq, name, description, state, start_time, completed_time, attempt, server_node)
       SELECT 'ServerTasks-' || s.seq, s.seq, 'Noop', 'A very long log', 'Success', now(), now(), 1, (SELECT id FROM nodes WHERE name = 'big') FROM s
       RETURNING id`)).rows[0]!.id;
    const taskLogs = join(cluster.shared, 'TaskLogs');
    let started = Date.now();
    const steps = await writeBigLog(taskLogs, id, 200 * MB);
    const size = statSync(join(taskLogs, id, 'attempt-1.log')).size;
    process.stdout.write(`# wrote ${(size / MB).toFixed(0)} MB in ${steps} steps in ${Date.now() - started} ms\n`);

    const pid = node.child.pid!;
    const baseline = rssMb(pid);
    let peak = baseline;
    let maxLag = 0;
    let offline = 0;
    let sampling = true;
    const rssSampler = (async () => { while (sampling) { peak = Math.max(peak, rssMb(pid)); await new Promise((r) => setTimeout(r, 50)); } })();
    // The node's heartbeat as the cluster sees it: last_seen by the database's clock, and the product's
    // online rule (FAST_TIMINGS: offline after 3 s without a heartbeat).
    const heartbeatSampler = (async () => {
      while (sampling) {
        const r = await db.query<{ lag: number; online: boolean }>(
          `SELECT extract(epoch FROM now() - last_seen)::float8 AS lag, (stopped_at IS NULL AND last_seen > now() - interval '3 seconds') AS online FROM nodes WHERE name = 'big'`);
        maxLag = Math.max(maxLag, r.rows[0]!.lag);
        if (!r.rows[0]!.online) offline++;
        await new Promise((r) => setTimeout(r, 200));
      }
    })();

    const base = `${node.url}/api/tasks/${id}`;
    const timed = async <T>(what: string, fn: () => Promise<T>): Promise<[string, number, T]> => { const t0 = Date.now(); const v = await fn(); return [what, Date.now() - t0, v]; };
    started = Date.now();
    const nodeCpu = cpuSeconds(pid);
    const ownCpu = process.cpuUsage();
    const results = await Promise.all([
      timed('raw', async () => drain(await fetch(`${base}/raw`, { headers }))),
      timed('details', async () => (await fetch(`${base}/details`, { headers })).json()),
      timed('details?tail=10', async () => (await fetch(`${base}/details?tail=10`, { headers })).json()),
      ...Array.from({ length: 8 }, (_, i) => timed(`stream ${i + 1}`, async () => drain(await fetch(`${base}/log/stream`, { headers })))),
    ]);
    const total = Date.now() - started;
    const own = process.cpuUsage(ownCpu);
    const cpu = { node: cpuSeconds(pid) - nodeCpu, readers: (own.user + own.system) / 1e6 };
    sampling = false;
    await Promise.all([rssSampler, heartbeatSampler]);

    const times = Object.fromEntries(results.map(([what, ms]) => [what, ms]));
    process.stdout.write(`# node RSS: baseline ${baseline.toFixed(0)} MB, peak ${peak.toFixed(0)} MB; heartbeat lag at most ${maxLag.toFixed(2)} s; all readers done in ${total} ms, using ${cpu.node.toFixed(1)} s of the node's CPU (the test's readers ~${cpu.readers.toFixed(1)} s)\n`);
    process.stdout.write(`# reader times (ms): ${JSON.stringify(times)}\n`);

    const raw = results[0][2];
    assert.ok(raw.bytes > 150 * MB, `raw sent the whole log (${raw.bytes} bytes)`);
    assert.match(raw.tail, /Info {5}\| Task finished\n$/);
    const details = results[1][2];
    const stepsShown = details.ActivityLogs[0].Children;
    assert.equal(stepsShown.length, steps);
    assert.ok(JSON.stringify(details).includes('"Category":"Gap"'), 'details says lines were left out');
    const tail = results[2][2];
    for (const s of tail.ActivityLogs[0].Children) {
      assert.ok(s.Children[0].LogElements.length <= 11, 'tail=10: at most ten lines and a marker per block');
      assert.match(s.Children[0].LogElements[s.Children[0].LogElements.length - 1].MessageText, /^line \d+\.\d+ x+$/);
    }
    const streams = results.slice(3).map((r) => r[2] as { bytes: number; tail: string });
    for (const s of streams) assert.match(s.tail, /event: end\ndata: \{\}\n\n$/);
    assert.ok(streams.every((s) => s.bytes === streams[0]!.bytes && s.bytes > 150 * MB), 'every viewer got the whole log');

    assert.equal(offline, 0, 'the node never showed offline');
    assert.ok(peak < 300, `peak RSS ${peak.toFixed(0)} MB stays under 300 MB`);
  });
});
