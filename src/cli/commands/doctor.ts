import type { Command } from 'commander';
import { readConfig, readMasterKeyFile } from '../../config/home.js';
import { openPool, type Pool } from '../../db/pool.js';
import { assertCuttleDatabase, latestKnownVersion, readSchemaState } from '../../db/migrate.js';
import { parseMasterKey } from '../../crypto/masterKey.js';
import { requireCluster, verifyMasterKey } from '../../cluster/cluster.js';
import { listNodes } from '../../cluster/nodes.js';
import { runtimeOptions } from '../../config/options.js';
import { errorMessage } from '../../errors.js';
import { checkFolders, checkPeerBeacons, homeInsideShared } from '../../storage/folders.js';
import { getSharedPaths, resolvePaths } from '../../storage/sharedPaths.js';
import { storageStatus } from '../../storage/report.js';
import { homeOf, homeOption, stdio } from '../shared.js';

interface Finding { ok: boolean; text: string }

export function doctorCommand(program: Command): void {
  homeOption(program.command('doctor'))
    .description('check the database, master key, schema version and every shared folder, and print each finding')
    .action(async (opts: { home?: string }) => {
      const home = homeOf(opts);
      const findings: Finding[] = [];
      const add = (ok: boolean, text: string) => { findings.push({ ok, text }); stdio.line(`${ok ? 'ok  ' : 'FAIL'}  ${text}`); };
      let pool: Pool | undefined;
      try {
        const config = readConfig(home);
        add(true, `home ${home} (node ${config.nodeName})`);
        pool = await openPool(config.databaseUrl, { max: 2, applicationName: 'cuttle doctor' });
        add(true, 'database reachable');
        const state = await readSchemaState(pool);
        assertCuttleDatabase(state);
        add(state.version === latestKnownVersion(), `schema version ${state.version} (this Cuttle knows ${latestKnownVersion()})${state.version < latestKnownVersion() ? ': run `cuttle database --upgrade`' : state.version > latestKnownVersion() ? ': this node is older than the cluster, upgrade it' : ''}`);
        const cluster = await requireCluster(pool);
        try {
          verifyMasterKey(cluster, parseMasterKey(readMasterKeyFile(home)));
          add(true, 'master key matches the cluster');
        } catch (err) {
          add(false, errorMessage(err));
        }
        const settings = await getSharedPaths(pool);
        const paths = resolvePaths(settings);
        if (!paths) {
          add(false, 'no shared storage configured: run `cuttle path --cluster-shared DIR`');
        } else {
          for (const f of await checkFolders(paths, false)) add(f.ok, f.ok ? `${f.name} ${f.path} is readable and writable` : f.problem!);
          const inside = homeInsideShared(home, paths, settings.clusterShared);
          if (inside) add(false, `the home ${home} lies inside shared storage (${inside})`);
          const nodes = await listNodes(pool, runtimeOptions().offlineThresholdMs);
          const unseen = await checkPeerBeacons(paths, config.nodeName, nodes);
          const livePeers = nodes.filter((n) => n.online && n.name !== config.nodeName);
          if (livePeers.length === 0) add(true, 'no other live node to compare shared folders with');
          else if (unseen.length === 0) add(true, `this node sees the same shared folders as ${livePeers.map((n) => n.name).join(', ')}`);
          for (const u of unseen) add(false, `cannot see ${u.node}'s beacon in ${u.folder} (${u.problem}): this node's ${u.folder} is not the folder ${u.node} uses`);
          for (const n of nodes.filter((x) => x.online)) {
            const s = storageStatus(n, nodes);
            for (const p of s.Problems) add(false, `reported by the cluster: ${p}`);
          }
        }
      } catch (err) {
        add(false, errorMessage(err));
      } finally {
        await pool?.end().catch(() => undefined);
      }
      const failed = findings.filter((f) => !f.ok).length;
      stdio.line(failed ? `${failed} problem(s) found.` : 'No problems found.');
      if (failed) process.exitCode = 1;
    });
}
