import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClusterJob } from '../cluster/jobs.js';
import type { RuntimeOptions } from '../config/options.js';
import type { Queryable } from '../db/pool.js';
import { markLogsDeleted, numberSetting, pruneOfflineNodes } from './queries.js';
import { getSharedPaths, resolvePaths } from '../storage/sharedPaths.js';
import { recoverOrphans, type HandlerLookup } from './recovery.js';
import { taskLogDir } from './log.js';

async function sharedPaths(db: Queryable) {
  return resolvePaths(await getSharedPaths(db));
}

/** The cluster-wide jobs that keep the task system healthy; each runs on one node at a time. */
export function taskJobs(o: RuntimeOptions, handlers?: HandlerLookup): ClusterJob[] {
  return [
    {
      name: 'recover-orphaned-tasks',
      // Often: a dead node's tasks move one grace after a run first saw its lock gone.
      intervalMs: Math.min(250, o.heartbeatMs / 4),
      run: async (c) => recoverOrphans(c, o.orphanGraceMs, o.offlineThresholdMs, (await sharedPaths(c))?.TaskLogs, handlers),
    },
    {
      name: 'task-log-retention',
      intervalMs: o.retentionJobMs,
      run: async (c) => {
        const days = await numberSetting(c, 'task_log_retention_days', 30);
        const paths = await sharedPaths(c);
        if (!paths) return 'no shared storage';
        const ids = await markLogsDeleted(c, days, 1000);
        return {
          result: ids.length ? `deleted the logs of ${ids.length} task(s) older than ${days} day(s)` : 'no old task logs',
          // Files go once the rows say so (committed): a slow share must not hold the job's locks, and
          // a node dying half-way leaves files without rows, never rows pointing at missing files.
          afterCommit: async () => {
            for (const id of ids) {
              await rm(taskLogDir(paths.TaskLogs, id), { recursive: true, force: true });
              await rm(join(paths.Artifacts, id), { recursive: true, force: true });
            }
          },
        };
      },
    },
    {
      name: 'prune-offline-nodes',
      intervalMs: o.pruneJobMs,
      run: async (c) => {
        const days = await numberSetting(c, 'offline_node_retention_days', 7);
        const removed = await pruneOfflineNodes(c, days);
        return removed.length ? `removed nodes offline for more than ${days} day(s): ${removed.join(', ')}` : 'no nodes to prune';
      },
    },
  ];
}
