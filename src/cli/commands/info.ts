import type { Command } from 'commander';
import { readMasterKeyFile } from '../../config/home.js';
import { parseMasterKey } from '../../crypto/masterKey.js';
import { listNodes, nodeStatus } from '../../cluster/nodes.js';
import { runtimeOptions } from '../../config/options.js';
import { nodeSummary, storageStatus } from '../../storage/report.js';
import { formatChoice, homeOf, homeOption, openHome, stdio } from '../shared.js';

export function showMasterKeyCommand(program: Command): void {
  homeOption(program.command('show-master-key'))
    .description('print this node\'s master key (every node of the cluster needs it)')
    .option('--format <format>', 'text or json', 'text')
    .action((opts: { home?: string; format?: string }) => {
      const format = formatChoice('--format', opts.format);
      const key = parseMasterKey(readMasterKeyFile(homeOf(opts)));
      stdio.line(format === 'json' ? JSON.stringify({ MasterKey: key.base64 }) : key.base64);
    });
}

function ago(d: Date | null): string {
  if (!d) return 'never';
  const s = Math.max(0, Math.round((Date.now() - d.getTime()) / 1000));
  return s < 120 ? `${s}s ago` : s < 7200 ? `${Math.round(s / 60)}m ago` : d.toISOString();
}

export function nodesCommand(program: Command): void {
  homeOption(program.command('nodes'))
    .description('list the cluster\'s nodes, as the Nodes page shows them')
    .option('--format <format>', 'text or json', 'text')
    .action(async (opts: { home?: string; format?: string }) => {
      const format = formatChoice('--format', opts.format);
      const h = await openHome(opts);
      try {
        const all = await listNodes(h.pool, runtimeOptions().offlineThresholdMs);
        if (format === 'json') {
          stdio.line(JSON.stringify(all.map((n) => nodeSummary(n, all)), null, 2));
          return;
        }
        const rows = [['NAME', 'STATUS', 'LAST SEEN', 'TASKS', 'TASK CAP', 'DRAIN', 'VERSION', 'SHARED STORAGE']];
        const problems: string[] = [];
        for (const n of all) {
          const s = storageStatus(n, all);
          problems.push(...s.Problems.map((p) => `${n.name}: ${p}`));
          rows.push([n.name, nodeStatus(n), ago(n.lastSeen), String(n.runningTasks), String(n.maxConcurrentTasks), n.drain ? 'on' : 'off', n.version, s.Status]);
        }
        const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
        for (const r of rows) stdio.line(r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
        for (const p of problems) stdio.line(`! ${p}`);
      } finally {
        await h.pool.end();
      }
    });
}
