// The daily client verbs on a node's own home: `release create` and `deploy`, through the same
// services as the API (validation, lifecycle, events), with `deploy --wait` following the task's
// log as it is written, from whichever node runs it.
import { userInfo } from 'node:os';
import type { Command } from 'commander';
import { createDeployments } from '../../deploy/deployments.js';
import { createRelease } from '../../deploy/releases.js';
import type { Actor } from '../../deploy/scoped.js';
import { DEFAULT_SPACE_ID } from '../../deploy/spaces.js';
import { listSpaces } from '../../deploy/spaces.js';
import { NotFoundError, UsageError } from '../../errors.js';
import { getSharedPaths, resolvePaths } from '../../storage/sharedPaths.js';
import { followTaskLog } from '../../tasks/logFollow.js';
import { LogCursor } from '../../tasks/logStream.js';
import type { Pool } from '../../db/pool.js';
import { homeOption, openHome, stdio, type HomeContext } from '../shared.js';

function cliActor(h: HomeContext): Actor {
  let os = 'unknown';
  try { os = userInfo().username; } catch { /* no passwd entry: keep "unknown" */ }
  return { userId: 'users-cli', username: `${os} (cuttle CLI on node ${h.config.nodeName})` };
}

/** A space by id or name (the default space when none is given). */
async function spaceIdOf(pool: Pool, space: string | undefined): Promise<string> {
  if (!space) return DEFAULT_SPACE_ID;
  const all = (await listSpaces(pool, { skip: 0, take: 1_000_000, ids: [] })).rows;
  const s = all.find((x) => x.id.toLowerCase() === space.toLowerCase()) ?? all.find((x) => x.name.toLowerCase() === space.toLowerCase());
  if (!s) throw new NotFoundError(`There is no space "${space}"; the spaces are ${all.map((x) => `${x.name} (${x.id})`).join(', ')}.`);
  return s.id;
}

function collect(v: string, previous: string[] = []): string[] {
  return [...previous, v];
}

function required(flag: string, v: string | undefined): string {
  if (!v?.trim()) throw new UsageError(`${flag} is required.`);
  return v.trim();
}

export function releaseCommand(program: Command): void {
  const release = program.command('release').description('releases of a project (create)');
  homeOption(release.command('create'))
    .description('create a release of a project: its process and variables frozen as they are now')
    .option('--project <name>', 'the project, by name')
    .option('--version <version>', 'the release version (default: the project\'s version template, e.g. 0.0.1, 0.0.2, …)')
    .option('--channel <name>', 'the channel (default: the project\'s default channel)')
    .option('--package <id:version>', 'a package version to use (repeat for more)', collect)
    .option('--release-notes <text>', 'release notes')
    .option('--ignore-existing', 'succeed with the existing release when the version exists')
    .option('--space <name or id>', 'the space (default: the default space)')
    .action(async (opts: { home?: string; project?: string; version?: string; channel?: string; package?: string[]; releaseNotes?: string; ignoreExisting?: boolean; space?: string }) => {
      const project = required('--project', opts.project);
      const h = await openHome(opts);
      try {
        const space = await spaceIdOf(h.pool, opts.space);
        const r = await createRelease(h.pool, space, {
          ProjectName: project,
          ...(opts.version ? { ReleaseVersion: opts.version } : {}),
          ...(opts.channel ? { ChannelName: opts.channel } : {}),
          ...(opts.package?.length ? { Packages: opts.package } : {}),
          ...(opts.releaseNotes ? { ReleaseNotes: opts.releaseNotes } : {}),
          IgnoreIfAlreadyExists: opts.ignoreExisting === true,
        }, cliActor(h));
        stdio.line(`${r.created ? 'Created' : 'Found existing'} release ${r.release.version} of ${project} (${r.release.id}).`);
      } finally {
        await h.pool.end();
      }
    });
}

interface LogElement { Category?: string; MessageText?: string; OccurredAt?: string }

export function deployCommand(program: Command): void {
  homeOption(program.command('deploy'))
    .description('deploy a release to one or more environments; --wait follows the log and exits 1 unless it succeeds')
    .option('--project <name>', 'the project, by name')
    .option('--release <version>', 'the release version')
    .option('--environment <name>', 'an environment, by name (repeat for more)', collect)
    .option('--skip-step <name>', 'a step to skip (repeat for more)', collect)
    .option('--wait', 'stream the task log until the deployment ends; exit 1 unless it succeeded')
    .option('--space <name or id>', 'the space (default: the default space)')
    .action(async (opts: { home?: string; project?: string; release?: string; environment?: string[]; skipStep?: string[]; wait?: boolean; space?: string }) => {
      const project = required('--project', opts.project);
      const version = required('--release', opts.release);
      if (!opts.environment?.length) throw new UsageError('--environment is required (repeat it to deploy to more than one).');
      const h = await openHome(opts);
      try {
        const space = await spaceIdOf(h.pool, opts.space);
        const queued = await createDeployments(h.pool, space, {
          ProjectName: project, ReleaseVersion: version, EnvironmentNames: opts.environment, ...(opts.skipStep?.length ? { SkipStepNames: opts.skipStep } : {}),
        }, cliActor(h));
        for (const q of queued) stdio.line(`Queued ${q.deploymentId} as task ${q.task.id}: ${q.task.description}`);
        if (!opts.wait) return;
        const taskLogs = resolvePaths(await getSharedPaths(h.pool))?.TaskLogs;
        let failed = 0;
        for (const q of queued) {
          const end = await followTaskLog({
            db: h.pool, taskLogs, taskId: q.task.id, cursor: new LogCursor(),
            closed: () => false,
            pause: (ms) => new Promise((r) => setTimeout(r, Math.min(ms, 500))),
            send: (event, data) => {
              if (event === 'block') {
                const b = JSON.parse((data as Buffer).toString()) as { Event: string; Name: string; Status: string; ParentId?: string };
                if (b.ParentId) stdio.line(b.Event === 'Started' ? `== ${b.Name}` : `== ${b.Name}: ${b.Status}`);
              } else if (event === 'log') {
                const l = JSON.parse((data as Buffer).toString()) as { LogElements: LogElement[] };
                for (const e of l.LogElements) stdio.line(`${(e.Category ?? 'Info').padEnd(8)} ${e.MessageText ?? ''}`);
              }
              return Promise.resolve();
            },
          });
          const state = end?.state ?? 'unknown';
          stdio.line(`${q.task.id} ${q.task.description}: ${state}${end?.errorMessage ? ` — ${end.errorMessage}` : ''}`);
          if (state !== 'Success') failed++;
        }
        if (failed) process.exitCode = 1;
      } finally {
        await h.pool.end();
      }
    });
}
