import type { Command } from 'commander';
import { configExists, readConfig, readMasterKeyFile, stageFile, CONFIG_FILE } from '../../config/home.js';
import { join } from 'node:path';
import { runtimeOptions } from '../../config/options.js';
import { embeddedDataDir, ensureDatabase, freePort, randomPassword, startEmbedded } from '../../db/embedded.js';
import { generatePassword } from '../../crypto/secrets.js';
import { setupCluster } from '../bootstrap.js';
import { nodeLogger } from '../logger.js';
import { homeOf, homeOption, loadServer, stdio } from '../shared.js';
import { catchSignals } from './run.js';
import { prepareHome } from '../../config/home.js';

export function startCommand(program: Command): void {
  homeOption(program.command('start'))
    .description('quick start: an embedded PostgreSQL server and one node (creates the cluster on first run)')
    .option('--listen <host:port>', 'where the node serves the portal and API', '127.0.0.1:8080')
    .action(async (opts: { home?: string; listen: string }, cmd: Command) => {
      const signals = catchSignals();
      const home = homeOf(opts);
      const options = runtimeOptions();
      prepareHome(home);
      const firstRun = !configExists(home);
      let config = firstRun ? undefined : readConfig(home);
      const embedded = config?.embeddedPostgres ?? { port: await freePort(), dataDir: embeddedDataDir(home) };
      const password = firstRun ? randomPassword() : decodeURIComponent(new URL(config!.databaseUrl).password);
      const server = await startEmbedded({ dataDir: embedded.dataDir, port: embedded.port, password });
      try {
        await ensureDatabase(server.adminUrl, 'cuttle');
        let adminPassword: string | undefined;
        if (firstRun) {
          adminPassword = generatePassword();
          await setupCluster({
            home, databaseUrl: server.databaseUrl('cuttle'), adminUsername: 'admin', adminPassword,
            nodeName: 'node-1', listen: opts.listen, clusterShared: join(home, 'Shared'), embeddedPostgres: embedded,
          });
          config = readConfig(home);
        } else if (cmd.getOptionValueSource('listen') === 'cli' && opts.listen !== config!.listen) {
          config = { ...config!, listen: opts.listen };
          stageFile(join(home, CONFIG_FILE), JSON.stringify(config, null, 2) + '\n', 0o600).commit();
        }
        const { runNode } = await loadServer();
        const node = await runNode({ home, config: config!, masterKey: readMasterKeyFile(home), options, log: nodeLogger(config!.nodeName) });
        stdio.err('');
        stdio.err(`Cuttle is running at ${node.url}`);
        if (adminPassword) stdio.err(`Administrator: admin / ${adminPassword}   (shown only this once)`);
        stdio.err(`Data: home ${home}; PostgreSQL data ${embedded.dataDir} (port ${embedded.port}); shared storage ${join(home, 'Shared')}`);
        stdio.err('Add nodes: point `cuttle join --database URL --master-key KEY` at a PostgreSQL every node reaches (see README, "High availability").');
        stdio.err('Stop with Ctrl-C.');
        process.exitCode = await signals.untilStopped(node);
      } finally {
        await server.stop();
      }
    });
}
