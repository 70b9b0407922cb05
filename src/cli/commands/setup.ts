import type { Command } from 'commander';
import { defaultNodeName } from '../../config/home.js';
import { UsageError } from '../../errors.js';
import { joinExisting, setupCluster } from '../bootstrap.js';
import { homeOf, homeOption, stdio } from '../shared.js';
import { printNextSteps } from './nextSteps.js';
import { runWizard } from './wizard.js';
import { installService } from './service.js';

interface SetupOpts { home?: string; database?: string; adminUsername?: string; adminPassword?: string; nodeName?: string; listen?: string; masterKey?: string }

export function setupCommand(program: Command): void {
  homeOption(program.command('setup'))
    .description('create a new cluster: schema, master key, administrator, and this node (a wizard when run with no flags on a terminal)')
    .option('--database <url>', 'PostgreSQL URL, postgres://user:password@host:5432/db')
    .option('--admin-username <name>', 'the first administrator')
    .option('--admin-password <password>', 'its password (8 characters or more)')
    .option('--node-name <name>', 'this node\'s name (default: the host name)')
    .option('--listen <host:port>', 'where this node serves the portal and API', '0.0.0.0:8080')
    .option('--master-key <key>', 'use this 32-byte base64 key instead of generating one')
    .action(async (opts: SetupOpts, cmd: Command) => {
      const home = homeOf(opts);
      const given = cmd.options.some((o) => o.attributeName() !== 'listen' && o.attributeName() !== 'home' && cmd.getOptionValueSource(o.attributeName()) === 'cli');
      if (!given && process.stdin.isTTY && process.stdout.isTTY) {
        await runWizard(home, { setup: setupCluster, join: joinExisting, installService });
        return;
      }
      const missing = [['--database', opts.database], ['--admin-username', opts.adminUsername], ['--admin-password', opts.adminPassword]]
        .filter(([, v]) => !v).map(([n]) => n);
      if (missing.length) throw new UsageError(`setup needs ${missing.join(', ')}; run \`cuttle setup --help\` for the flags, or run it on a terminal with no flags for the wizard.`);
      const r = await setupCluster({
        home, databaseUrl: opts.database!, adminUsername: opts.adminUsername!, adminPassword: opts.adminPassword!,
        nodeName: opts.nodeName ?? defaultNodeName(), listen: opts.listen ?? '0.0.0.0:8080',
        ...(opts.masterKey ? { masterKey: opts.masterKey } : {}),
      });
      stdio.line(`Created a new Cuttle cluster; this node's home is ${home}.`);
      stdio.line(`Shared storage is ${r.clusterShared} for now (only right for a single node).`);
      printNextSteps(home, r.masterKey);
    });
}

export function joinCommand(program: Command): void {
  homeOption(program.command('join'))
    .description('add this server as a node of an existing cluster (same database, the cluster\'s master key)')
    .requiredOption('--database <url>', 'the cluster\'s PostgreSQL URL')
    .requiredOption('--master-key <key>', 'the master key, as `cuttle show-master-key` prints it on a node of the cluster')
    .option('--node-name <name>', 'this node\'s name (default: the host name)')
    .option('--listen <host:port>', 'where this node serves the portal and API', '0.0.0.0:8080')
    .action(async (opts: { home?: string; database: string; masterKey: string; nodeName?: string; listen: string }) => {
      const home = homeOf(opts);
      const nodeName = opts.nodeName ?? defaultNodeName();
      await joinExisting({ home, databaseUrl: opts.database, masterKey: opts.masterKey, nodeName, listen: opts.listen });
      stdio.line(`Node ${nodeName} joined the cluster; its home is ${home}.`);
      stdio.line(`Start it with: cuttle run --home ${home}`);
    });
}
