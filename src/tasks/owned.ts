import type { PoolClient } from 'pg';
import { withTransaction, type Pool } from '../db/pool.js';
import { lockOwnedTask } from './queries.js';

/** A write by a node that no longer owns the task (it was recovered elsewhere, or finished). */
export class FencedError extends Error {
  constructor(readonly taskId: string) {
    super(`Task ${taskId} is no longer owned by this node (it was recovered by another node or has finished); the write was refused.`);
    this.name = 'FencedError';
  }
}

/**
 * The executing node's handle on its task: every write goes through a transaction that first
 * proves the claim token is still the task's (and holds the row FOR SHARE, so recovery, which takes
 * orphans FOR UPDATE SKIP LOCKED, cannot take the task over half-way through the write). A
 * fenced-out write throws FencedError: the handler sees it, it is never a silent success.
 */
export class OwnedTask {
  constructor(private readonly pool: Pool, readonly taskId: string, readonly claimToken: string) {}

  async transaction<T>(fn: (c: PoolClient) => Promise<T>): Promise<T> {
    return withTransaction(this.pool, async (c) => {
      if (!(await lockOwnedTask(c, this.taskId, this.claimToken))) throw new FencedError(this.taskId);
      return fn(c);
    });
  }
}
