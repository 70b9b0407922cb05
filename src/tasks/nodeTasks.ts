import type { Queryable } from '../db/pool.js';
import { requestCancel } from './queries.js';

/** Tasks a node is running now (Executing or Cancelling). */
export async function runningTaskCount(db: Queryable, nodeId: string): Promise<number> {
  const r = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM server_tasks WHERE server_node = $1 AND state IN ('Executing', 'Cancelling')`, [nodeId]);
  return r.rows[0]?.n ?? 0;
}

/** Asks every task running on the node to cancel (its owner stops them); returns how many were asked. */
export async function cancelNodeTasks(db: Queryable, nodeId: string): Promise<number> {
  const r = await db.query<{ id: string }>(`SELECT id FROM server_tasks WHERE server_node = $1 AND state = 'Executing'`, [nodeId]);
  let n = 0;
  for (const { id } of r.rows) if (await requestCancel(db, id)) n++;
  return n;
}
