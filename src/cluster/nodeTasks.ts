import type { Queryable } from '../db/pool.js';

/** Tasks a node is running now. Until the task engine exists, no node runs any. */
export async function runningTaskCount(_db: Queryable, _nodeId: string): Promise<number> {
  return 0;
}

/** Asks every task running on the node to cancel; returns how many were asked. */
export async function cancelNodeTasks(_db: Queryable, _nodeId: string): Promise<number> {
  return 0;
}
