// Following a task's log as it is written, from any node: every file read to its end in bounded
// batches, in order, then the state looked at again; until the task is final and its log complete.
// The portal's live stream and `cuttle deploy --wait` both read a log this way.
import type { Queryable } from '../db/pool.js';
import { inlineLogOf, listLogFiles, openLog, type LogFile } from './logFiles.js';
import { attemptClosed, type LogCursor, readEvents } from './logStream.js';
import { getTask } from './queries.js';
import { FINAL_STATES, type TaskRow } from './types.js';

// After a task ended without its last attempt being closed (its node died), recovery writes its
// note just after committing the outcome: a reader waits this long for it before ending.
const NOTE_GRACE_MS = 2_000;

export interface FollowOptions {
  readonly db: Queryable;
  readonly taskLogs: string | undefined;
  readonly taskId: string;
  /** Where the reader is in each file; moved past every event sent. */
  readonly cursor: LogCursor;
  /** `block` and `log` events (their JSON), and `state` {State, ServerNode} when the state changes; awaited. */
  send(event: 'block' | 'log' | 'state', data: Buffer | object): Promise<void>;
  /** The reader has gone: stop. */
  closed(): boolean;
  /** Waits for new lines (a wake-up) or `ms`, whichever comes first. */
  pause(ms: number): Promise<void>;
}

/** Follows the log until the task is final and everything is sent (or the reader goes); returns the last state seen. */
export async function followTaskLog(o: FollowOptions): Promise<TaskRow | undefined> {
  let lastState = '';
  let current: TaskRow | undefined;
  while (!o.closed()) {
    current = await getTask(o.db, o.taskId);
    if (!current) break;
    const files = o.taskLogs ? await listLogFiles(o.taskLogs, o.taskId, inlineLogOf(current)) : [];
    // Every file to its end, in order, before the state is looked at again; each read is one
    // bounded batch, sent (and drained by the reader) before the next is read.
    for (const f of files) {
      const fh = await openLog(f);
      if (!fh) continue;
      try {
        for (let more = true; more && !o.closed();) {
          const r = await readEvents(fh, f, o.cursor.get(f), o.taskId);
          for (const e of r.events) {
            o.cursor.set(f, e.offset);
            await o.send(e.event, e.json);
          }
          o.cursor.set(f, r.next);
          more = r.more;
        }
      } finally {
        await fh.close();
      }
    }
    if (current.state !== lastState) {
      await o.send('state', { State: current.state, ServerNode: current.serverNode?.replace(/^OctopusServerNodes-/, '') ?? null });
      lastState = current.state;
    }
    if (o.closed() || (FINAL_STATES.includes(current.state) && await logComplete(current, files))) break;
    await o.pause(1000);
  }
  return current;
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
