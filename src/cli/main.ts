import { Command, CommanderError } from 'commander';
import { CuttleError, InputError, UsageError, errorMessage } from '../errors.js';
import { VERSION } from '../version.js';
import { stdio } from './shared.js';
import { runCommand } from './commands/run.js';
import { joinCommand, setupCommand } from './commands/setup.js';
import { pathCommand } from './commands/path.js';
import { nodesCommand, showMasterKeyCommand } from './commands/info.js';
import { nodeCommand } from './commands/node.js';
import { adminCommand } from './commands/admin.js';
import { databaseCommand } from './commands/database.js';
import { doctorCommand } from './commands/doctor.js';
import { settingCommand } from './commands/setting.js';
import { serviceCommand } from './commands/service.js';
import { startCommand } from './commands/start.js';
import { builtinWorkerCommand } from './commands/builtinWorker.js';
import { deployCommand, releaseCommand } from './commands/deploy.js';

/** Octopus spellings accepted as aliases of Cuttle's flags. */
const ALIASES: Record<string, string> = {
  '--clusterShared': '--cluster-shared',
  '--taskLogs': '--task-logs',
  '--nugetRepository': '--packages',
  '--eventExports': '--event-exports',
  '--taskCap': '--task-cap',
  '--cancelTasks': '--cancel-tasks',
  '--masterKey': '--master-key',
  '--serverNodeName': '--node-name',
  '--nodeName': '--node-name',
  '--adminUsername': '--admin-username',
  '--adminPassword': '--admin-password',
};

export function rewriteAliases(argv: readonly string[]): string[] {
  return argv.map((a) => {
    const eq = a.indexOf('=');
    const flag = eq > 0 ? a.slice(0, eq) : a;
    const to = ALIASES[flag];
    return to ? (eq > 0 ? to + a.slice(eq) : to) : a;
  });
}

function program(): Command {
  const p = new Command('cuttle')
    .description('Cuttle: a highly available deployment automation server that speaks the Octopus Deploy API')
    .version(VERSION)
    // `release create --version V` is the command's own option, not the program's --version.
    .enablePositionalOptions()
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeErr: (s) => process.stderr.write(s), writeOut: (s) => process.stdout.write(s) });
  for (const add of [startCommand, setupCommand, joinCommand, runCommand, pathCommand, showMasterKeyCommand, nodeCommand, nodesCommand, adminCommand, builtinWorkerCommand, serviceCommand, releaseCommand, deployCommand, databaseCommand, settingCommand, doctorCommand]) add(p);
  for (const c of p.commands) c.exitOverride().showHelpAfterError('(run with --help for usage)');
  return p;
}

/** Runs the CLI; returns the exit code: 0 success, 2 usage error, 1 any other failure. */
export async function main(argv: string[]): Promise<number> {
  try {
    await program().parseAsync(rewriteAliases(argv), { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
      return 2; // commander has already printed the problem
    }
    if (err instanceof UsageError || err instanceof InputError) {
      stdio.err(`cuttle: ${err.message}`);
      return 2;
    }
    if (err instanceof CuttleError) {
      stdio.err(`cuttle: ${err.message}`);
      return 1;
    }
    stdio.err(`cuttle: ${errorMessage(err)}`);
    if (process.env.CUTTLE_DEBUG) stdio.err(String((err as Error).stack));
    return 1;
  }
}
