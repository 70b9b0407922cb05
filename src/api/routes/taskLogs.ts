import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { Notifications } from '../../cluster/notifications.js';
import { getTask, LOG_CHANNEL } from '../../tasks/queries.js';
import { FINAL_STATES, type TaskRow } from '../../tasks/types.js';
import { taskDetails } from '../../tasks/present.js';
import { listLogFiles, openLog, type LogFile } from '../../tasks/logFiles.js';
import { rawLog } from '../../tasks/logRaw.js';
import { attemptClosed, LogCursor, readEvents } from '../../tasks/logStream.js';
import { boolParam, intParam, stringParam } from '../query.js';
import type { ApiContext } from '../context.js';
import { PREFIXES, taskOr404 } from './tasks.js';

/** A task's log: the ActivityLogs tree (details), the text (raw) and the live stream, from any node. */
export function taskLogRoutes(app: FastifyInstance, ctx: ApiContext): void {
  for (const prefix of PREFIXES) {
    app.get(`${prefix}/tasks/:id/details`, async (req) => {
      const t = await taskOr404(ctx, req);
      const tail = stringParam(req.query, 'tail') === undefined ? undefined : intParam(req.query, 'tail', 0, 0, 100_000);
      return taskDetails(t, ctx.sharedPaths()?.TaskLogs, boolParam(req.query, 'verbose', false), tail);
    });

    app.get(`${prefix}/tasks/:id/raw`, async (req, reply) => {
      const t = await taskOr404(ctx, req);
      // Streamed: the reply pulls the next chunk only when the socket has taken the last one.
      const body = Readable.from(rawLog(t, ctx.sharedPaths()?.TaskLogs), { objectMode: false, highWaterMark: 64 * 1024 });
      return reply.type('text/plain; charset=utf-8').send(body);
    });

    app.get(`${prefix}/tasks/:id/log/stream`, async (req, reply) => streamLog(ctx, req, reply, await taskOr404(ctx, req)));
  }
}

// One 'notify' listener per node, however many streams are open, waking the streams of the tasks named.
const wakers = new WeakMap<Notifications, Map<string, Set<() => void>>>();
function onLogWritten(n: Notifications, taskId: string, wake: () => void): () => void {
  let byTask = wakers.get(n);
  if (!byTask) {
    const map = new Map<string, Set<() => void>>();
    n.on('notify', (channel: string, payload: string) => {
      if (channel !== LOG_CHANNEL) return;
      for (const id of payload.split(',')) for (const w of map.get(id) ?? []) w();
    });
    wakers.set(n, byTask = map);
  }
  const set = byTask.get(taskId) ?? new Set();
  byTask.set(taskId, set);
  set.add(wake);
  return () => { set.delete(wake); if (!set.size) byTask.delete(taskId); };
}

// After a task ended without its last attempt being closed (its node died), recovery writes its
// note just after committing the outcome: a stream waits this long for it before ending.
const NOTE_GRACE_MS = 2_000;

/**
 * Server-Sent Events with a task's log as it is written, from any node: `block` and `log` events
 * read from the shared files a bounded batch at a time, each with an `id:` cursor that a
 * reconnecting client sends back as Last-Event-ID; `state` when the task's state changes; `end`
 * once the task is final and everything is sent. Wakes on the writer node's NOTIFY, or every second.
 */
async function streamLog(ctx: ApiContext, req: FastifyRequest, reply: FastifyReply, task: TaskRow): Promise<void> {
  const taskLogs = ctx.sharedPaths()?.TaskLogs;
  const lastId = req.headers['last-event-id'];
  const cursor = LogCursor.parse(Array.isArray(lastId) ? lastId[0] : lastId);
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'Octopus-Node': ctx.nodeName });
  let closed = false;
  let wake: (() => void) | undefined;
  const stopListening = onLogWritten(ctx.notifications, task.id, () => wake?.());
  req.raw.on('close', () => { closed = true; wake?.(); });
  // No id before anything was read: an empty id would reset the client's Last-Event-ID.
  const send = (event: string, data: Buffer | object) => {
    const id = cursor.toString();
    return write(res, [`${id ? `id: ${id}\n` : ''}event: ${event}\ndata: `, Buffer.isBuffer(data) ? data : JSON.stringify(data), '\n\n'], () => closed);
  };
  try {
    let lastState = '';
    while (!closed) {
      const current = await getTask(ctx.pool, task.id);
      if (!current) break;
      const files = taskLogs ? await listLogFiles(taskLogs, task.id) : [];
      // Every file to its end, in order, before the state is looked at again; each read is one
      // bounded batch, sent (and drained by the socket) before the next is read.
      for (const f of files) {
        const fh = await openLog(f.path);
        if (!fh) continue;
        try {
          for (let more = true; more && !closed;) {
            const r = await readEvents(fh, f, cursor.get(f), task.id);
            for (const e of r.events) {
              cursor.set(f, e.offset);
              await send(e.event, e.json);
            }
            cursor.set(f, r.next);
            more = r.more;
          }
        } finally {
          await fh.close();
        }
      }
      if (current.state !== lastState) {
        await send('state', { State: current.state, ServerNode: current.serverNode?.replace(/^OctopusServerNodes-/, '') ?? null });
        lastState = current.state;
      }
      if (closed || (FINAL_STATES.includes(current.state) && await logComplete(current, files))) break;
      await new Promise<void>((r) => { const t = setTimeout(r, 1000); wake = () => { clearTimeout(t); r(); }; });
      wake = undefined;
    }
    await send('end', {});
  } finally {
    stopListening();
    res.end();
  }
}

/** A final task's log is complete once its last attempt was closed, a recovery note about it exists, or the grace has passed. */
async function logComplete(t: TaskRow, files: readonly LogFile[]): Promise<boolean> {
  const last = files.filter((f) => f.attempt === t.attempt);
  if (!last.length) return true;
  if (last.some((f) => f.kind === 'recovery')) return true;
  if (!t.completedTime || Date.now() - t.completedTime.getTime() > NOTE_GRACE_MS) return true;
  const attempt = last.find((f) => f.kind === 'attempt');
  return attempt ? attemptClosed(attempt) : true;
}

/** Writes, and waits for the socket to drain when its buffer is full (or for the client to go). */
async function write(res: ServerResponse, parts: (string | Buffer)[], gone: () => boolean): Promise<void> {
  if (gone() || res.writableEnded) return;
  let ok = true;
  for (const p of parts) ok = res.write(p) && ok;
  if (ok) return;
  await new Promise<void>((resolve) => {
    const done = () => { res.off('drain', done); res.off('close', done); resolve(); };
    res.on('drain', done);
    res.on('close', done);
  });
}
