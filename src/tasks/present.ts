import { activityTree, type ActivityStatus } from './logDetails.js';
import type { TaskRow, TaskState } from './types.js';

function iso(d: Date | null): string | null {
  return d ? d.toISOString() : null;
}

export function nodeNameOf(serverNode: string | null): string | null {
  return serverNode ? serverNode.replace(/^OctopusServerNodes-/, '') : null;
}

function humanDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} second${s === 1 ? '' : 's'}`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} minute${m === 1 ? '' : 's'}`;
  const h = Math.round(m / 60);
  return `${h} hour${h === 1 ? '' : 's'}`;
}

const FINAL: readonly TaskState[] = ['Success', 'Failed', 'Canceled', 'TimedOut'];

/** The Octopus TaskResource shape. */
export function taskResource(t: TaskRow): object {
  const isCompleted = FINAL.includes(t.state);
  const end = t.completedTime ?? (t.startTime ? new Date() : null);
  const base = t.spaceId ? `/api/${t.spaceId}/tasks/${t.id}` : `/api/tasks/${t.id}`;
  return {
    Id: t.id,
    SpaceId: t.spaceId,
    Name: t.name,
    Description: t.description,
    Arguments: t.arguments,
    State: t.state,
    Completed: isCompleted ? `${t.completedTime?.toUTCString() ?? ''}` : t.state === 'Queued' ? 'Queued' : 'Running',
    QueueTime: iso(t.queueTime),
    QueueTimeExpiry: null,
    StartTime: iso(t.startTime),
    LastUpdatedTime: iso(t.lastUpdated),
    CompletedTime: iso(t.completedTime),
    ServerNode: nodeNameOf(t.serverNode),
    Duration: t.startTime && end ? humanDuration(end.getTime() - t.startTime.getTime()) : '',
    ErrorMessage: t.errorMessage ?? '',
    HasBeenPickedUpByProcessor: t.startTime !== null || isCompleted,
    IsCompleted: isCompleted,
    FinishedSuccessfully: t.state === 'Success',
    HasPendingInterruptions: false,
    CanRerun: isCompleted,
    HasWarningsOrErrors: t.hasWarnings || t.state === 'Failed' || t.state === 'TimedOut',
    Attempt: t.attempt,
    RetryOnNodeFailure: t.retryOnNodeFailure,
    ConcurrencyTag: t.concurrencyTag,
    Links: {
      Self: base,
      Web: `/app#/${t.spaceId}/tasks/${t.id}`,
      Raw: `${base}/raw`,
      Details: `${base}/details{?verbose,tail}`,
      Stream: `${base}/log/stream`,
      Cancel: `${base}/cancel`,
      Rerun: `/api/${t.spaceId}/tasks/rerun/${t.id}`,
      Artifacts: `/api/${t.spaceId}/artifacts?regarding=${t.id}`,
    },
  };
}

function activityStatus(t: TaskRow): ActivityStatus {
  switch (t.state) {
    case 'Queued': return 'Pending';
    case 'Executing':
    case 'Cancelling': return 'Running';
    case 'Success': return t.hasWarnings ? 'SuccessWithWarning' : 'Success';
    case 'Canceled': return 'Canceled';
    case 'Failed':
    case 'TimedOut': return 'Failed';
  }
}

/**
 * Octopus's task details: the task and its ActivityLogs tree (see logDetails.ts for how attempts
 * and blocks appear). Bounded: a big log is summarised with a marker naming the raw log.
 * PhysicalLogSize is the size of the task's log files in bytes, as in Octopus.
 */
export async function taskDetails(t: TaskRow, taskLogs: string | undefined, verbose: boolean, tail: number | undefined): Promise<object> {
  const base = t.spaceId ? `/api/${t.spaceId}/tasks/${t.id}` : `/api/tasks/${t.id}`;
  const { root, size } = await activityTree(t, taskLogs, {
    Id: t.id, Name: t.description, Status: activityStatus(t), Started: iso(t.startTime), Ended: iso(t.completedTime),
  }, { verbose, tail, rawLink: `${base}/raw` });
  return {
    Task: taskResource(t),
    ActivityLogs: [root],
    Progress: { ProgressPercentage: root.ProgressPercentage, EstimatedTimeRemaining: t.completedTime ? '' : 'unknown' },
    PhysicalLogSize: size,
    Links: { Self: `${base}/details` },
  };
}
