// Octopus's ActivityLogs tree, folded from a task's log files.
//
// How attempts appear: the task is the root; every attempt's blocks (steps, and actions under
// them) are the root's children, in attempt order. Lines written to the root and recovery's notes
// are the root's LogElements, in file order. When a task ran more than once, each attempt's root
// lines start with an "Attempt K" line and its top-level blocks are named "… (attempt K)", so two
// runs of "Step 1" can be told apart. A block still open in the attempt that is running now is
// Running; one left open by an attempt that ended without closing it (its node died, or the task
// moved on) is Canceled when the task was canceled in that attempt, Failed otherwise.
import { collectSources, type OpenSources } from './logSources.js';
import { DETAILS_MAX_BYTES, DETAILS_MAX_ELEMENTS, headAndTail, tails, type Collection } from './logCollect.js';
import type { BlockInfo, FileIndex } from './logIndex.js';
import type { LogElement } from './logFormat.js';
import type { TaskRow } from './types.js';

export type ActivityStatus = 'Pending' | 'Running' | 'Success' | 'Failed' | 'Skipped' | 'SuccessWithWarning' | 'Canceled';

export interface ActivityNode {
  Id: string;
  Name: string;
  Status: ActivityStatus;
  Started: string | null;
  Ended: string | null;
  LogElements: LogElement[];
  Children: ActivityNode[];
  ProgressPercentage: number;
}

export interface DetailsRequest {
  readonly verbose: boolean;
  readonly tail: number | undefined;
  /** The raw log's address, named in the marker of lines left out. */
  readonly rawLink: string;
}

/** The root node: the task itself, as `present.ts` describes it. */
export type RootNode = Omit<ActivityNode, 'LogElements' | 'Children' | 'ProgressPercentage'>;

export async function activityTree(t: TaskRow, taskLogs: string | undefined, root: RootNode, req: DetailsRequest): Promise<{ root: ActivityNode; size: number }> {
  const sources: OpenSources = taskLogs ? await collectSources(taskLogs, t) : { list: [], close: () => Promise.resolve() };
  try {
    const collected = req.tail === undefined ? await headAndTail(sources.list, req.verbose) : await tails(sources.list, req.tail, req.verbose);
    const attempts = sources.list.filter((s) => s.index.file.kind === 'attempt').length;
    const tree: ActivityNode = { ...root, LogElements: [], Children: [], ProgressPercentage: t.completedTime ? 100 : 0 };
    const nodes = new Map<string, ActivityNode>([[t.id, tree]]);
    const totals = new Map<string, number>();
    let size = 0;
    for (const { index, preamble } of sources.list) {
      size += index.size;
      const live = index.file.kind === 'attempt' && index.file.attempt === t.attempt && !index.closed && (t.state === 'Executing' || t.state === 'Cancelling');
      for (const b of index.blocks.values()) {
        totals.set(b.id, (totals.get(b.id) ?? 0) + b.own[0] - (req.verbose ? 0 : b.own[1]) + (b.id === t.id && preamble ? 1 : 0));
        if (b.id === t.id) continue;
        const parent = nodes.get(b.parent) ?? tree;
        const name = attempts > 1 && parent === tree ? `${b.name} (attempt ${index.file.attempt})` : b.name;
        const node: ActivityNode = {
          Id: b.id, Name: name, Status: blockStatus(b, live, t, index), Started: b.started, Ended: b.ended,
          LogElements: [], Children: [], ProgressPercentage: b.status || !live ? 100 : 0,
        };
        nodes.set(b.id, node);
        parent.Children.push(node);
      }
      if (live && tree.Children.length) {
        const top = [...index.blocks.values()].filter((b) => b.parent === t.id);
        if (top.length) tree.ProgressPercentage = Math.round((100 * top.filter((b) => b.status).length) / top.length);
      }
    }
    for (const [id, node] of nodes) node.LogElements = elementsOf(id, collected, totals.get(id) ?? 0, req, node.Started ?? node.Ended);
    return { root: tree, size };
  } finally {
    await sources.close();
  }
}

function blockStatus(b: BlockInfo, live: boolean, t: TaskRow, index: FileIndex): ActivityStatus {
  if (b.status) return b.status;
  if (live) return 'Running';
  return t.state === 'Canceled' && index.file.attempt === t.attempt ? 'Canceled' : 'Failed';
}

function elementsOf(id: string, collected: Collection, total: number, req: DetailsRequest, started: string | null): LogElement[] {
  const c = collected.byBlock.get(id);
  const head = c?.head ?? [];
  const tail = (c?.tail ?? []).reverse();
  const left = total - head.length - tail.length;
  if (left <= 0) return head.length ? head.concat(tail) : tail;
  const at = tail[0]?.OccurredAt ?? head[head.length - 1]?.OccurredAt ?? started ?? new Date(0).toISOString();
  const overBudget = collected.budgetExceeded && (req.tail === undefined || tail.length < req.tail);
  return [...head, gap(left, at, req, overBudget), ...tail];
}

function gap(n: number, at: string, req: DetailsRequest, overBudget: boolean): LogElement {
  const lines = `${n.toLocaleString('en-US')} ${req.tail === undefined ? '' : 'earlier '}log line${n === 1 ? '' : 's'}`;
  const why = overBudget
    ? `details returns at most ${DETAILS_MAX_ELEMENTS.toLocaleString('en-US')} lines (${DETAILS_MAX_BYTES / 1024 / 1024} MiB) of a task's log`
    : `you asked for the last ${req.tail} line${req.tail === 1 ? '' : 's'} of each block`;
  return { Category: 'Gap', OccurredAt: at, MessageText: `${lines} not shown here: ${why}. The whole log is at ${req.rawLink}.`, Detail: null };
}
