import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { join } from 'node:path';
import { getTask, LOG_CHANNEL } from '../../tasks/queries.js';
import { FINAL_STATES, type TaskRow } from '../../tasks/types.js';
import { taskDetails } from '../../tasks/present.js';
import { logFiles, rawLine, readLogFile, readSince } from '../../tasks/log.js';
import { boolParam, intParam, stringParam } from '../query.js';
import type { ApiContext } from '../context.js';
import { PREFIXES, taskOr404 } from './tasks.js';

/** A task's log: the ActivityLogs tree (details), the text (raw) and the live stream, from any node. */
export function taskLogRoutes(app: FastifyInstance, ctx: ApiContext): void {
  for (const prefix of PREFIXES) {
    app.get(`${prefix}/tasks/:id/details`, async (req) => {
      const t = await taskOr404(ctx, req);
      const tailRaw = stringParam(req.query, 'tail');
      const tail = tailRaw === undefined ? undefined : intParam(req.query, 'tail', 0, 0, 100_000);
      return taskDetails(t, ctx.sharedPaths()?.TaskLogs, boolParam(req.query, 'verbose', false), tail);
    });

    app.get(`${prefix}/tasks/:id/raw`, async (req, reply) => {
      const t = await taskOr404(ctx, req);
      const taskLogs = ctx.sharedPaths()?.TaskLogs;
      const lines: string[] = [`Task ID:        ${t.id}`, `Task status:    ${t.state}`, `Task queued:    ${t.queueTime.toISOString()}`,
        `Task started:   ${t.startTime?.toISOString() ?? ''}`, `Task completed: ${t.completedTime?.toISOString() ?? ''}`, `Server node:    ${t.serverNode?.replace(/^OctopusServerNodes-/, '') ?? ''}`, ''];
      if (taskLogs) {
        for (const f of await logFiles(taskLogs, t.id)) {
          lines.push(f.kind === 'attempt' ? `== Attempt ${f.attempt} ==` : `== Recovery after attempt ${f.attempt} ==`);
          for (const e of await readLogFile(taskLogs, t.id, f.name)) lines.push(rawLine(e));
        }
      }
      return reply.type('text/plain; charset=utf-8').send(lines.join('\n') + '\n');
    });

    app.get(`${prefix}/tasks/:id/log/stream`, async (req, reply) => streamLog(ctx, req, reply, await taskOr404(ctx, req)));

  }
}

/**
 * Server-Sent Events with a task's log as it is written, from any node: reads the shared files
 * from the last offset whenever the writer's node notifies (or every second), until the task ends.
 */
async function streamLog(ctx: ApiContext, req: FastifyRequest, reply: FastifyReply, task: TaskRow): Promise<void> {
  const taskLogs = ctx.sharedPaths()?.TaskLogs;
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'Octopus-Node': ctx.nodeName });
  const offsets = new Map<string, number>();
  let closed = false;
  let wake: (() => void) | undefined;
  const onNotify = (channel: string, payload: string) => { if (channel === LOG_CHANNEL && payload.split(',').includes(task.id)) wake?.(); };
  ctx.notifications.on('notify', onNotify);
  req.raw.on('close', () => { closed = true; wake?.(); });
  const send = (event: string, data: unknown) => { if (!closed) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`); };
  try {
    let lastState = '';
    for (;;) {
      const current = await getTask(ctx.pool, task.id);
      if (!current) break;
      if (taskLogs) {
        for (const f of await logFiles(taskLogs, task.id)) {
          const r = await readSince(join(taskLogs, task.id, f.name), offsets.get(f.name) ?? 0);
          offsets.set(f.name, r.offset);
          if (r.elements.length) send('log', { File: f.name, Attempt: f.attempt, Kind: f.kind, LogElements: r.elements });
        }
      }
      if (current.state !== lastState) { send('state', { State: current.state, ServerNode: current.serverNode?.replace(/^OctopusServerNodes-/, '') ?? null }); lastState = current.state; }
      if (closed || FINAL_STATES.includes(current.state)) break;
      await new Promise<void>((r) => { const t = setTimeout(r, 1000); wake = () => { clearTimeout(t); r(); }; });
      wake = undefined;
    }
    send('end', {});
  } finally {
    ctx.notifications.off('notify', onNotify);
    res.end();
  }
}
