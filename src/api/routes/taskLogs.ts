import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { Notifications } from '../../cluster/notifications.js';
import { LOG_CHANNEL } from '../../tasks/queries.js';
import type { TaskRow } from '../../tasks/types.js';
import { taskDetails } from '../../tasks/present.js';
import { rawLog } from '../../tasks/logRaw.js';
import { LogCursor } from '../../tasks/logStream.js';
import { followTaskLog } from '../../tasks/logFollow.js';
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
    await followTaskLog({
      db: ctx.pool, taskLogs, taskId: task.id, cursor, send, closed: () => closed,
      pause: (ms) => new Promise<void>((r) => { const t = setTimeout(r, ms); wake = () => { clearTimeout(t); r(); }; }).finally(() => { wake = undefined; }),
    });
    await send('end', {});
  } finally {
    stopListening();
    res.end();
  }
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
