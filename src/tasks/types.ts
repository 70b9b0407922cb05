export const TASK_STATES = ['Queued', 'Executing', 'Cancelling', 'Success', 'Failed', 'Canceled', 'TimedOut'] as const;
export type TaskState = (typeof TASK_STATES)[number];
export const ACTIVE_STATES: readonly TaskState[] = ['Executing', 'Cancelling'];
export const FINAL_STATES: readonly TaskState[] = ['Success', 'Failed', 'Canceled', 'TimedOut'];

export interface TaskRow {
  readonly id: string;
  readonly seq: number;
  readonly spaceId: string;
  readonly name: string;
  readonly description: string;
  readonly arguments: Record<string, unknown>;
  readonly state: TaskState;
  readonly queueTime: Date;
  readonly startTime: Date | null;
  readonly completedTime: Date | null;
  readonly lastUpdated: Date;
  readonly serverNode: string | null;
  readonly nodeEpoch: number | null;
  readonly claimToken: string | null;
  readonly attempt: number;
  readonly errorMessage: string | null;
  readonly retryOnNodeFailure: boolean;
  readonly concurrencyTag: string | null;
  readonly timeoutSeconds: number | null;
  readonly hasWarnings: boolean;
  /**
   * The whole log of the last attempt when it was written at once as the task ended (kept in the
   * row, not in a file: see migration 012); null otherwise.
   */
  readonly inlineLog: string | null;
}

/**
 * Told of this node's task lifecycle (metrics, telemetry). Calls are synchronous and must not throw:
 * an observer never slows or fails a task.
 */
export interface TaskObserver {
  /** A task this node claimed and starts now. */
  claimed(task: TaskRow): void;
  /** A task this node ran, its result recorded (fenced by its claim token). */
  finished(task: TaskRow, state: TaskState, durationMs: number): void;
}

export interface RawTask {
  id: string; seq: number; space_id: string; name: string; description: string; arguments: Record<string, unknown>;
  state: TaskState; queue_time: Date; start_time: Date | null; completed_time: Date | null; last_updated: Date;
  server_node: string | null; node_epoch: number | null; claim_token: string | null; attempt: number;
  error_message: string | null; retry_on_node_failure: boolean; concurrency_tag: string | null;
  timeout_seconds: number | null; has_warnings: boolean; inline_log?: string | null;
}

export function toTask(r: RawTask): TaskRow {
  return {
    id: r.id, seq: r.seq, spaceId: r.space_id, name: r.name, description: r.description, arguments: r.arguments,
    state: r.state, queueTime: r.queue_time, startTime: r.start_time, completedTime: r.completed_time,
    lastUpdated: r.last_updated, serverNode: r.server_node, nodeEpoch: r.node_epoch, claimToken: r.claim_token,
    attempt: r.attempt, errorMessage: r.error_message, retryOnNodeFailure: r.retry_on_node_failure,
    concurrencyTag: r.concurrency_tag, timeoutSeconds: r.timeout_seconds, hasWarnings: r.has_warnings,
    inlineLog: r.inline_log ?? null,
  };
}

/** Why a task ended the way it did; sorted exhaustively so every failure has a state and a message. */
export type Outcome =
  | { readonly kind: 'success' }
  | { readonly kind: 'failed'; readonly message: string }
  | { readonly kind: 'canceled' }
  | { readonly kind: 'timedOut'; readonly seconds: number };

export function outcomeState(o: Outcome): { state: TaskState; error: string | null } {
  switch (o.kind) {
    case 'success': return { state: 'Success', error: null };
    case 'failed': return { state: 'Failed', error: o.message };
    case 'canceled': return { state: 'Canceled', error: 'The task was canceled.' };
    case 'timedOut': return { state: 'TimedOut', error: `The task did not finish within its timeout of ${o.seconds} seconds and was stopped.` };
  }
}

/** Why a run was told to stop; carried by the run's AbortSignal down to every script it started. */
export type StopReason =
  | { readonly kind: 'cancel' }
  | { readonly kind: 'timeout'; readonly seconds: number }
  /** The node can no longer prove it owns the task: kill at once, record nothing. */
  | { readonly kind: 'abort'; readonly why: string }
  /** Something the task depends on failed (its log could not be written). */
  | { readonly kind: 'failure'; readonly message: string };
