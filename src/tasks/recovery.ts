import type { PoolClient } from 'pg';
import { failOrphan, lockOrphans, markLostLocks, notifyQueued, requeue } from './queries.js';
import type { TaskRow, TaskState } from './types.js';
import type { TaskHandler } from './handler.js';

/** Where recovery finds a task type's handler (the node's registry). */
export interface HandlerLookup { get(name: string): TaskHandler | undefined }
import { appendNote, type LogCategory } from './log.js';

/** Set when the task was queued: the caller asked for it, or its handler is safe to re-run. */
export function safeToRerun(t: TaskRow): boolean {
  return t.retryOnNodeFailure;
}

async function writeNote(taskLogs: string | undefined, t: TaskRow, category: string, message: string): Promise<void> {
  if (!taskLogs) return;
  try {
    // Its own file: the recoverer holds the task's row lock, so it is this file's only writer.
    await appendNote(taskLogs, t.id, t.attempt, category as LogCategory, message);
  } catch {
    // The database records the outcome either way; a missing note must not block recovery.
  }
}

/**
 * Settles the tasks of nodes that died: re-queued when safe to re-run, otherwise Failed with a
 * message naming the node and when it was last seen; a task being cancelled ends Canceled.
 * Runs inside the caller's transaction, holding each orphan's row lock.
 */
export async function recoverOrphans(c: PoolClient, graceMs: number, thresholdMs: number, taskLogs: string | undefined, handlers?: HandlerLookup): Promise<{ result: string; afterCommit: () => Promise<void> }> {
  await markLostLocks(c);
  const orphans = await lockOrphans(c, graceMs, thresholdMs);
  let requeued = 0;
  let failed = 0;
  // Log notes are written after the commit: a hung share must not hold the orphans' row locks.
  const notes: [TaskRow, string, string][] = [];
  const note = (t: TaskRow, category: string, message: string) => { notes.push([t, category, message]); };
  const settled = async (t: TaskRow, state: TaskState, message: string) => { await handlers?.get(t.name)?.settledByRecovery?.(c, t, state, message); };
  for (const o of orphans) {
    const seen = o.lastSeen ? o.lastSeen.toISOString() : 'never';
    if (o.task.state === 'Cancelling') {
      const msg = `The task was canceled; node ${o.nodeName}, which was running it, stopped responding (last seen ${seen}).`;
      await failOrphan(c, o.task.id, 'Canceled', msg);
      await settled(o.task, 'Canceled', msg);
      note(o.task, 'Warning', `Node ${o.nodeName} stopped responding (last seen ${seen}) while the task was being canceled; marked Canceled.`);
      failed++;
    } else if (safeToRerun(o.task)) {
      await requeue(c, o.task.id);
      note(o.task, 'Warning', `Node ${o.nodeName} stopped responding (last seen ${seen}) during attempt ${o.task.attempt}; the task is safe to re-run, so it was queued again.`);
      requeued++;
    } else {
      const msg = `The task was running on node ${o.nodeName}, which stopped responding (last seen ${seen}); it is not marked safe to re-run, so it was not started again.`;
      await failOrphan(c, o.task.id, 'Failed', msg);
      await settled(o.task, 'Failed', msg);
      note(o.task, 'Fatal', msg);
      failed++;
    }
  }
  if (requeued) await notifyQueued(c);
  return {
    result: orphans.length ? `re-queued ${requeued}, finished ${failed}` : 'no orphans',
    afterCommit: async () => { for (const [t, category, message] of notes) await writeNote(taskLogs, t, category, message); },
  };
}
