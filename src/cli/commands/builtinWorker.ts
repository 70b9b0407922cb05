import type { Command } from 'commander';
import { userInfo } from 'node:os';
import { readConfig } from '../../config/home.js';
import { EnvironmentError, UsageError } from '../../errors.js';
import { checkWorkerUser, lookupUser, readWorkerSettings, writeWorkerSettings, type WorkerSettings } from '../../tasks/builtinWorker.js';
import { containmentWarning, detectContainment } from '../../tasks/containment.js';
import { defaultWorkFolder, workFolderProblem } from '../../tasks/workFolder.js';
import { homeOf, homeOption, stdio } from '../shared.js';

function nodeUser(): string {
  try { return userInfo().username; } catch { return `uid ${process.getuid?.()}`; }
}

/**
 * Octopus's `builtin-worker`: the OS user this node runs scripts as, kept in the node's home. The
 * running node reads it at start, so a change applies from its next start.
 */
export function builtinWorkerCommand(program: Command): void {
  homeOption(program.command('builtin-worker'))
    .description('the OS user this node runs scripts as (it cannot read the home); --reset goes back to the node\'s own user; without flags, prints the setting')
    .option('--username <user>', 'run scripts as this existing OS user (the node must run as root)')
    .option('--reset', 'run scripts as the node\'s own user again')
    .option('--work-folder <dir>', 'the folder scripts run in, outside the home and shared storage ("default" for the per-node default)')
    .action(async (opts: { home?: string; username?: string; reset?: boolean; workFolder?: string }) => {
      if (opts.username !== undefined && opts.reset) throw new UsageError('--username and --reset contradict each other; give one of them.');
      if (opts.username !== undefined && opts.username.trim() === '') throw new UsageError('--username needs the name of an OS user.');
      const home = homeOf(opts);
      const config = readConfig(home);
      const current = readWorkerSettings(home);
      const changing = opts.username !== undefined || opts.reset || opts.workFolder !== undefined;
      let next: WorkerSettings = current;
      if (opts.workFolder !== undefined) {
        const dir = opts.workFolder === 'default' ? undefined : opts.workFolder;
        if (dir !== undefined) {
          const problem = workFolderProblem(dir, { home, shared: [] });
          if (problem) throw problem.includes('relative path') ? new UsageError(problem) : new EnvironmentError(problem);
        }
        next = { ...(next.username ? { username: next.username } : {}), ...(dir ? { workFolder: dir } : {}) };
      }
      let userText = '';
      if (opts.username !== undefined) {
        const user = await checkWorkerUser(opts.username.trim());
        next = { ...next, username: user.name };
        userText = `OS user ${user.name} (uid ${user.uid}, gid ${user.gid})`;
      } else if (opts.reset) {
        next = { ...(next.workFolder ? { workFolder: next.workFolder } : {}) };
      }
      const workFolder = next.workFolder ?? defaultWorkFolder(home, config.nodeName);
      if (changing) {
        writeWorkerSettings(home, next);
        const who = next.username ? (userText || `OS user ${next.username}`) : `its own user (${nodeUser()})`;
        stdio.line(`Node ${config.nodeName} will run scripts as ${who}, in ${workFolder}, from its next start; restart the node to apply this.`);
        return;
      }
      if (next.username) {
        const user = await lookupUser(next.username);
        if (!user) throw new EnvironmentError(`Node ${config.nodeName} is set to run scripts as "${next.username}", but there is no such OS user on this machine; create it, or run \`cuttle builtin-worker --reset\`.`);
        stdio.line(`Node ${config.nodeName} runs scripts as OS user ${user.name} (uid ${user.uid}, gid ${user.gid}), in ${workFolder}.`);
      } else {
        stdio.line(`Node ${config.nodeName} runs scripts as its own user (${nodeUser()}), in ${workFolder}; \`cuttle builtin-worker --username USER\` runs them as a user that cannot read the home.`);
      }
      const containment = await detectContainment();
      stdio.line(containmentWarning(containment) ?? `Scripts are contained in ${containment.description}.`);
    });
}
