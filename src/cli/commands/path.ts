import type { Command } from 'commander';
import { withTransaction } from '../../db/pool.js';
import { EnvironmentError } from '../../errors.js';
import { checkFolder, homeInsideShared } from '../../storage/folders.js';
import { SHARED_FOLDERS, getSharedPaths, requireAbsolute, resolvePaths, setSharedPaths, type SharedFolder, type SharedPathSettings } from '../../storage/sharedPaths.js';
import { isDirectory } from '../../config/home.js';
import { homeOption, openHome, stdio } from '../shared.js';

const FLAGS: Record<SharedFolder, string> = {
  Artifacts: 'artifacts', TaskLogs: 'taskLogs', Packages: 'packages', Telemetry: 'telemetry', EventExports: 'eventExports', Imports: 'imports',
};

export function pathCommand(program: Command): void {
  homeOption(program.command('path'))
    .description('set the shared-storage folders for the whole cluster (stored in the database); with no flags, print them')
    .option('--cluster-shared <dir>', 'root of all shared folders (alias --clusterShared)')
    .option('--artifacts <dir>', 'artifacts folder')
    .option('--task-logs <dir>', 'task logs folder (alias --taskLogs)')
    .option('--packages <dir>', 'built-in package feed folder (alias --nugetRepository)')
    .option('--telemetry <dir>', 'telemetry folder')
    .option('--event-exports <dir>', 'event exports folder (alias --eventExports)')
    .option('--imports <dir>', 'imports folder')
    .option('--format <format>', 'text or json', 'text')
    .action(async (opts: Record<string, string | undefined>) => {
      const h = await openHome(opts);
      try {
        const current = await getSharedPaths(h.pool);
        const given = SHARED_FOLDERS.filter((f) => opts[FLAGS[f]] !== undefined);
        if (opts.clusterShared === undefined && given.length === 0) {
          printPaths(current, opts.format === 'json');
          return;
        }
        const next: SharedPathSettings = {
          ...(opts.clusterShared !== undefined ? { clusterShared: requireAbsolute('--cluster-shared', opts.clusterShared) } : current.clusterShared ? { clusterShared: current.clusterShared } : {}),
          folders: { ...(opts.clusterShared !== undefined ? {} : current.folders) },
        };
        for (const f of given) (next.folders as Record<string, string>)[f] = requireAbsolute(`--${FLAGS[f]}`, opts[FLAGS[f]]!);
        if (next.clusterShared && !isDirectory(next.clusterShared)) {
          throw new EnvironmentError(`The folder ${next.clusterShared} does not exist; create or mount it on every node, then run \`cuttle path\` again.`);
        }
        const resolved = resolvePaths(next);
        if (!resolved) {
          const unset = SHARED_FOLDERS.filter((f) => !next.folders?.[f]).map((f) => `--${FLAGS[f]}`);
          throw new EnvironmentError(`Without --cluster-shared every folder needs its own flag, and ${unset.join(', ')} are not set; give --cluster-shared DIR or those flags.`);
        }
        // Before the folder check, which creates the sub-folders: a refused path must leave the home untouched.
        const inside = homeInsideShared(h.home, resolved, next.clusterShared);
        if (inside) throw new EnvironmentError(`Shared storage not changed: this node's home ${h.home} lies inside ${inside}; shared folders must be outside every node's home.`);
        // Prove every folder usable from this node before the cluster is told to use it.
        const bad = (await Promise.all(SHARED_FOLDERS.map((f) => checkFolder(f, resolved[f], true)))).filter((c) => !c.ok);
        if (bad.length) throw new EnvironmentError(`Shared storage not changed: ${bad.map((b) => b.problem).join('; ')}.`);
        await withTransaction(h.pool, (c) => setSharedPaths(c, next));
        stdio.line('Shared storage for the whole cluster (stored in the database; every node reads it):');
        printPaths(next, opts.format === 'json');
        stdio.line('Running nodes check the new folders within their storage-check interval; restart them to switch at once.');
      } finally {
        await h.pool.end();
      }
    });
}

function printPaths(s: SharedPathSettings, json: boolean): void {
  const resolved = resolvePaths(s);
  if (json) {
    stdio.line(JSON.stringify({ ClusterShared: s.clusterShared ?? null, ...Object.fromEntries(SHARED_FOLDERS.map((f) => [f, resolved?.[f] ?? s.folders?.[f] ?? null])) }, null, 2));
    return;
  }
  stdio.line(`  ClusterShared  ${s.clusterShared ?? '(not set)'}`);
  for (const f of SHARED_FOLDERS) stdio.line(`  ${f.padEnd(13)}  ${resolved?.[f] ?? s.folders?.[f] ?? '(not set)'}`);
}
