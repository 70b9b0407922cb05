import type { Command } from 'commander';
import { getNode, nodeId, nodeStatus, updateNode } from '../../cluster/nodes.js';
import { runtimeOptions } from '../../config/options.js';
import { EnvironmentError, UsageError } from '../../errors.js';
import { homeOption, openHome, parseBool, parseNonNegativeInt, stdio } from '../shared.js';
import { cancelNodeTasks, runningTaskCount } from '../../tasks/nodeTasks.js';

export function nodeCommand(program: Command): void {
  homeOption(program.command('node'))
    .description('change this node: task cap and drain')
    .option('--task-cap <n>', 'most tasks this node runs at once; 0 = serve the portal and API only (alias --taskCap)')
    .option('--drain <bool>', 'true: finish running tasks and take no new ones; false: take tasks again')
    .option('--wait <seconds>', 'with --drain true: wait up to this long until the node runs no task')
    .option('--cancel-tasks', 'after --wait, cancel the tasks still running (alias --cancelTasks)')
    .action(async (opts: { home?: string; taskCap?: string; drain?: string; wait?: string; cancelTasks?: boolean }) => {
      const taskCap = opts.taskCap === undefined ? undefined : parseNonNegativeInt('--task-cap', opts.taskCap);
      const drain = opts.drain === undefined ? undefined : parseBool('--drain', opts.drain);
      const wait = opts.wait === undefined ? undefined : parseNonNegativeInt('--wait', opts.wait, 86_400);
      if ((wait !== undefined || opts.cancelTasks) && drain !== true) {
        throw new UsageError('--wait and --cancel-tasks go with --drain true.');
      }
      const h = await openHome(opts);
      try {
        const id = nodeId(h.config.nodeName);
        if (taskCap !== undefined || drain !== undefined) {
          if (!(await updateNode(h.pool, id, { maxConcurrentTasks: taskCap, drain }))) {
            throw new EnvironmentError(`Node ${h.config.nodeName} is not registered in the cluster; run \`cuttle join\` for this home.`);
          }
        }
        if (wait !== undefined) {
          const deadline = Date.now() + wait * 1000;
          while ((await runningTaskCount(h.pool, id)) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
          const left = await runningTaskCount(h.pool, id);
          if (left > 0 && opts.cancelTasks) {
            const n = await cancelNodeTasks(h.pool, id);
            stdio.line(`Cancelled ${n} task(s) still running on ${h.config.nodeName} after ${wait}s.`);
          } else if (left > 0) {
            stdio.line(`${left} task(s) still running on ${h.config.nodeName} after ${wait}s.`);
          }
        }
        const n = await getNode(h.pool, id, runtimeOptions().offlineThresholdMs);
        if (!n) throw new EnvironmentError(`Node ${h.config.nodeName} is not registered in the cluster; run \`cuttle join\` for this home.`);
        stdio.line(`${n.name}: ${nodeStatus(n)}, task cap ${n.maxConcurrentTasks}, drain ${n.drain ? 'on' : 'off'}, ${n.runningTasks} running task(s)`);
      } finally {
        await h.pool.end();
      }
    });
}
