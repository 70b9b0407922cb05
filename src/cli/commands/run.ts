import type { Command } from 'commander';
import { defaultNodeName, readConfig, readMasterKeyFile, type NodeConfig } from '../../config/home.js';
import { runtimeOptions } from '../../config/options.js';
import { generatePassword } from '../../crypto/secrets.js';
import type { RunningNode } from '../../main.js';
import { bootstrapFromEnvironment } from '../bootstrap.js';
import { nodeLogger } from '../logger.js';
import { homeOf, homeOption, loadServer, stdio } from '../shared.js';

/**
 * Catches SIGINT/SIGTERM from the moment it is called, so a signal that arrives while the node
 * is still starting (its port may already answer) stops it cleanly once started, rather than
 * killing the process half-way.
 */
export function catchSignals(): { untilStopped(node: RunningNode): Promise<number> } {
  let signal: string | undefined;
  let current: RunningNode | undefined;
  const onSignal = (sig: string) => {
    // A second signal means "now": leave at once (a crash, as far as the cluster is concerned).
    if (signal) process.exit(130);
    signal = sig;
    if (current) void current.stop(`received ${sig}`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    async untilStopped(node: RunningNode): Promise<number> {
      current = node;
      if (signal) void node.stop(`received ${signal} while starting`);
      await node.stopped;
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      return signal ? 0 : 1;
    },
  };
}

export function runCommand(program: Command): void {
  homeOption(program.command('run'))
    .description('run this node: web portal, REST API and task processing (also from CUTTLE_* environment variables alone)')
    .action(async (opts: { home?: string }) => {
      const signals = catchSignals();
      const home = homeOf(opts);
      const options = runtimeOptions();
      let config: NodeConfig;
      let masterKey: string;
      const env = process.env;
      if (env.CUTTLE_DATABASE_URL) {
        // Container style: everything from the environment; the home keeps the node-local files.
        const nodeName = env.CUTTLE_NODE_NAME || defaultNodeName();
        const listen = env.CUTTLE_LISTEN || '0.0.0.0:8080';
        const r = await bootstrapFromEnvironment({
          home, databaseUrl: env.CUTTLE_DATABASE_URL, nodeName, listen,
          ...(env.CUTTLE_MASTER_KEY ? { masterKey: env.CUTTLE_MASTER_KEY } : {}),
          ...(env.CUTTLE_ADMIN_USERNAME ? { adminUsername: env.CUTTLE_ADMIN_USERNAME } : {}),
          ...(env.CUTTLE_ADMIN_PASSWORD ? { adminPassword: env.CUTTLE_ADMIN_PASSWORD } : {}),
          ...(env.CUTTLE_CLUSTER_SHARED ? { clusterShared: env.CUTTLE_CLUSTER_SHARED } : {}),
        }, generatePassword);
        if (r.created) {
          stdio.err(`Created a new Cuttle cluster. Its master key is in ${home}/master.key; \`cuttle show-master-key --home ${home}\` prints it for other nodes.`);
          if (r.generatedAdminPassword) stdio.err(`Administrator: ${env.CUTTLE_ADMIN_USERNAME ?? 'admin'} / ${r.generatedAdminPassword} (shown once)`);
        }
        config = { nodeName, databaseUrl: env.CUTTLE_DATABASE_URL, listen };
        masterKey = r.masterKey;
      } else {
        config = readConfig(home);
        if (env.CUTTLE_LISTEN) config = { ...config, listen: env.CUTTLE_LISTEN };
        masterKey = readMasterKeyFile(home);
      }
      const log = nodeLogger(config.nodeName);
      const { runNode } = await loadServer();
      const node = await runNode({ home, config, masterKey, options, log });
      process.exitCode = await signals.untilStopped(node);
    });
}
