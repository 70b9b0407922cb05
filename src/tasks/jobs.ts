import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClusterJob } from '../cluster/jobs.js';
import type { RuntimeOptions } from '../config/options.js';
import type { Queryable } from '../db/pool.js';
import { getSharedPaths, resolvePaths } from '../storage/sharedPaths.js';
import { NODE_LOCK_HELD } from '../cluster/nodes.js';
import { recoverOrphans } from './recovery.js';
import { taskLogDir } from './log.js';

async function numberSetting(db: Queryable, key: string, fallback: number): Promise<number> {
  const r = await db.query<{ value: unknown }>('SELECT value FROM settings WHERE key = $1', [key]);
  const v = r.rows[0]?.value;
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : fallback;
}

async function sharedPaths(db: Queryable) {
  return resolvePaths(await getSharedPaths(db));
}

/** The cluster-wide jobs that keep the task system healthy; each runs on one node at a time. */
export function taskJobs(o: RuntimeOptions): ClusterJob[] {
  return [
    {
      name: 'recover-orphaned-tasks',
      intervalMs: Math.min(1_000, o.heartbeatMs),
      run: async (c) => recoverOrphans(c, o.orphanGraceMs, o.offlineThresholdMs, (await sharedPaths(c))?.TaskLogs),
    },
    {
      name: 'task-log-retention',
      intervalMs: o.retentionJobMs,
      run: async (c) => {
        const days = await numberSetting(c, 'task_log_retention_days', 30);
        const paths = await sharedPaths(c);
        if (!paths) return 'no shared storage';
        const old = await c.query<{ id: string }>(
          `SELECT id FROM server_tasks WHERE completed_time < now() - make_interval(secs => $1::double precision * 86400)
             AND NOT logs_deleted ORDER BY seq LIMIT 1000`, [days]);
        for (const { id } of old.rows) {
          await rm(taskLogDir(paths.TaskLogs, id), { recursive: true, force: true });
          await rm(join(paths.Artifacts, id), { recursive: true, force: true });
          await c.query('UPDATE server_tasks SET logs_deleted = true WHERE id = $1', [id]);
          await c.query('DELETE FROM artifacts WHERE task_id = $1', [id]);
        }
        return old.rowCount ? `deleted the logs of ${old.rowCount} task(s) older than ${days} day(s)` : 'no old task logs';
      },
    },
    {
      name: 'prune-offline-nodes',
      intervalMs: o.pruneJobMs,
      run: async (c) => {
        const days = await numberSetting(c, 'offline_node_retention_days', 7);
        const r = await c.query<{ name: string }>(
          `DELETE FROM nodes n
           WHERE coalesce(n.last_seen, n.registered_at) < now() - make_interval(secs => $1::double precision * 86400)
             AND NOT EXISTS (SELECT 1 FROM server_tasks t WHERE t.server_node = n.id AND t.state IN ('Executing', 'Cancelling'))
             AND NOT ${NODE_LOCK_HELD}
           RETURNING n.name`, [days]);
        return r.rowCount ? `removed nodes offline for more than ${days} day(s): ${r.rows.map((x) => x.name).join(', ')}` : 'no nodes to prune';
      },
    },
  ];
}
