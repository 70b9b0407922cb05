// SQL of the operations part: the queue's depth that metrics and telemetry read, and the event export.
import type { Queryable } from '../db/pool.js';

export interface QueueCounts {
  /** Tasks waiting in the cluster's queue. */
  readonly queued: number;
  /** Tasks executing or cancelling on any node. */
  readonly active: number;
}

/** Both counts come from the queue's partial indexes, so they stay cheap with a million finished tasks. */
export async function queueCounts(db: Queryable): Promise<QueueCounts> {
  const r = await db.query<{ queued: number; active: number }>(
    `SELECT (SELECT count(*) FROM server_tasks WHERE state = 'Queued') AS queued,
            (SELECT count(*) FROM server_tasks WHERE state IN ('Executing', 'Cancelling')) AS active`);
  const row = r.rows[0]!;
  return { queued: Number(row.queued), active: Number(row.active) };
}

/** The oldest events before the cutoff, up to `limit`, of the single oldest UTC day among them; locked so no other transaction removes them meanwhile. */
export async function oldestEventsDay<T>(db: Queryable, cutoffDays: number, limit: number): Promise<T[]> {
  const r = await db.query<T & Record<string, unknown>>(
    `WITH day AS (
       SELECT (occurred AT TIME ZONE 'UTC')::date AS d FROM events
        WHERE occurred < now() - make_interval(days => $1::int)
        ORDER BY occurred, seq LIMIT 1)
     SELECT e.* FROM events e, day
      WHERE e.occurred >= (day.d::timestamp AT TIME ZONE 'UTC')
        AND e.occurred < ((day.d + 1)::timestamp AT TIME ZONE 'UTC')
        AND e.occurred < now() - make_interval(days => $1::int)
      ORDER BY e.seq LIMIT $2
      FOR UPDATE OF e`, [cutoffDays, limit]);
  return r.rows;
}

export async function deleteEvents(db: Queryable, ids: readonly string[]): Promise<number> {
  const r = await db.query('DELETE FROM events WHERE id = ANY($1::text[])', [ids]);
  return r.rowCount ?? 0;
}
