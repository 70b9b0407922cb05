import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { EnvironmentError } from './errors.js';
import { VERSION } from './version.js';
import { lockHome, listenUrl, parseListen, type NodeConfig } from './config/home.js';
import { databasePoolSize, databaseSessionUrl, type RuntimeOptions } from './config/options.js';
import { openPool, withTransaction, type Pool } from './db/pool.js';
import { logConnectionBudget } from './db/budget.js';
import { migrate } from './db/migrate.js';
import { parseMasterKey } from './crypto/masterKey.js';
import { requireCluster, verifyMasterKey } from './cluster/cluster.js';
import { Liveness } from './cluster/liveness.js';
import { ensureNodeRow, listNodes } from './cluster/nodes.js';
import { checkFolders, homeInsideShared, writeBeacons } from './storage/folders.js';
import { getSharedPaths, resolvePaths } from './storage/sharedPaths.js';
import { StorageMonitor } from './storage/monitor.js';
import { buildServer } from './api/server.js';
import { Notifications } from './cluster/notifications.js';
import { Scheduler } from './cluster/jobs.js';
import { TaskEngine } from './tasks/engine.js';
import { prepareBuiltinWorker } from './tasks/builtinWorker.js';
import { releaseWorkFolder } from './tasks/workFolder.js';
import { AUTH_CHANNEL } from './auth/cache.js';
import { TaskRegistry } from './tasks/handler.js';
import { noopHandler } from './tasks/handlers/noop.js';
import { adHocScriptHandler } from './tasks/handlers/adHocScript.js';
import { deployHandler } from './deploy/deployTask.js';
import { taskJobs } from './tasks/jobs.js';
import { packageJobs } from './packages/jobs.js';
import { recordEvent, systemActor } from './deploy/events.js';
import { recoverOrphans } from './tasks/recovery.js';
import { CANCEL_CHANNEL, LOG_CHANNEL, TASKS_CHANNEL } from './tasks/queries.js';
import type { TaskObserver } from './tasks/types.js';
import { NodeMetrics } from './ops/metrics.js';
import { Telemetry, telemetryRetentionJob } from './ops/telemetry.js';
import { eventExportJob } from './ops/eventExport.js';

export interface RunNodeInput {
  readonly home: string;
  readonly config: NodeConfig;
  readonly masterKey: string;
  readonly options: RuntimeOptions;
  readonly log: Logger;
}

export interface RunningNode {
  readonly url: string;
  readonly nodeName: string;
  readonly pool: Pool;
  /** Resolves when the node has stopped (clean shutdown or a fatal loss of ownership). */
  readonly stopped: Promise<void>;
  stop(reason: string): Promise<void>;
}

/**
 * The composition root of a node: config → database → cluster membership → storage → API.
 * Each step refuses with one clear sentence, and nothing is marked online before the HTTP port is bound.
 */
export async function runNode(input: RunNodeInput): Promise<RunningNode> {
  const { home, config, options, log } = input;
  const listen = parseListen(config.listen);
  // Every task type this node runs; the engine and the API know them only through the registry.
  const registry = new TaskRegistry().register(noopHandler).register(adHocScriptHandler);
  const key = parseMasterKey(input.masterKey);
  const releaseHome = lockHome(home);
  const cleanups: (() => Promise<void> | void)[] = [releaseHome];
  const cleanup = async () => { for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined); };
  try {
    const poolSize = databasePoolSize(config, options);
    // Liveness and notifications need sessions of their own: behind PgBouncer, a direct or session-pooled URL.
    const sessionUrl = databaseSessionUrl(config, options);
    const pool = await openPool(config.databaseUrl, { max: poolSize.size, applicationName: `cuttle ${config.nodeName}`, log });
    cleanups.push(() => pool.end());
    const m = await migrate(pool);
    if (m.applied.length) log.info({ applied: m.applied }, 'database schema upgraded');
    const cluster = await requireCluster(pool);
    verifyMasterKey(cluster, key);
    await ensureNodeRow(pool, config.nodeName, VERSION);

    const settings = await getSharedPaths(pool);
    const paths = resolvePaths(settings);
    if (!paths) throw new EnvironmentError('The cluster has no shared storage configured; run `cuttle path --cluster-shared DIR` once for the cluster.');
    const inside = homeInsideShared(home, paths, settings.clusterShared);
    if (inside) {
      throw new EnvironmentError(`The home directory ${home} lies inside shared storage (${inside}); a home is node-local, so pass a --home outside the shared folders.`);
    }
    const bad = (await checkFolders(paths, true)).filter((f) => !f.ok);
    if (bad.length) throw new EnvironmentError(`Shared storage is not usable: ${bad.map((b) => b.problem).join('; ')}.`);
    // Scripts: the home's modes, the worker user, its work folder, containment (refusals before the node registers).
    const worker = await prepareBuiltinWorker({ home, config, paths, clusterShared: settings.clusterShared }, log);
    cleanups.push(() => releaseWorkFolder(worker.workRoot));

    const liveness = new Liveness({ databaseUrl: sessionUrl, nodeName: config.nodeName, heartbeatMs: options.heartbeatMs, offlineThresholdMs: options.offlineThresholdMs, log });
    await liveness.acquire();
    cleanups.push(() => liveness.stop());

    const nonce = randomUUID();
    const monitor = new StorageMonitor({ pool, nodeId: liveness.id, nodeName: config.nodeName, nonce, intervalMs: options.storageCheckMs, offlineThresholdMs: options.offlineThresholdMs, log });
    monitor.paths = paths;
    // A deployment reads its release and writes its progress through this node's pool, and takes its packages from the shared folder.
    registry.register(deployHandler({ pool, key, packagesDir: () => monitor.paths?.Packages }));
    const notifications = new Notifications(sessionUrl, [TASKS_CHANNEL, CANCEL_CHANNEL, LOG_CHANNEL, 'cuttle_nodes', AUTH_CHANNEL], config.nodeName, log);
    await notifications.start();
    cleanups.push(() => notifications.stop());
    // The port is bound before the node registers (a taken port must fail before anything is
    // marked online), so until start-up completes the ping tells load balancers to wait.
    let ready = false;
    // What this node does, told to its metrics (GET /metrics) and its telemetry file alike.
    const metrics = new NodeMetrics({ pool, nodeName: config.nodeName, offlineThresholdMs: options.offlineThresholdMs, poolMax: poolSize.size });
    const telemetry = new Telemetry({ pool, nodeName: config.nodeName, version: VERSION, intervalMs: options.telemetryMs, offlineThresholdMs: options.offlineThresholdMs, sharedPaths: () => monitor.paths, log });
    const observer: TaskObserver = {
      claimed: (t) => { metrics.claimed(t); telemetry.claimed(t); },
      finished: (t, state, ms) => { metrics.finished(t, state, ms); telemetry.finished(t, state, ms); },
    };
    const app: FastifyInstance = buildServer({
      pool, key, nodeName: config.nodeName, nodeId: liveness.id, installationId: cluster.installationId, options, log,
      registry, healthy: () => liveness.healthy, ready: () => ready, sharedPaths: () => monitor.paths, notifications, metrics,
    });
    try {
      await app.listen({ host: listen.host, port: listen.port });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE') throw new EnvironmentError(`The address ${config.listen} is already in use; stop what listens there or pass another --listen HOST:PORT.`);
      if (code === 'EADDRNOTAVAIL') throw new EnvironmentError(`The address ${config.listen} is not an address of this machine; pass --listen with a local address such as 0.0.0.0:8080.`);
      if (code === 'EACCES') throw new EnvironmentError(`Not allowed to listen on ${config.listen}; use a port above 1024 or run with the needed privilege.`);
      throw err;
    }
    cleanups.push(() => app.close());

    // Beacon before the nonce is published: a peer that reads the new nonce always finds the new file.
    await writeBeacons(paths, config.nodeName, nonce);
    await liveness.register(VERSION, listenUrl(listen), nonce);
    // Every registered node counted with this node's pool: a warning when they may not fit, never a refusal.
    await logConnectionBudget(pool, async () => (await listNodes(pool, options.offlineThresholdMs)).length, poolSize, sessionUrl !== config.databaseUrl, log);
    monitor.start();
    cleanups.push(() => monitor.stop());
    // The first full check (peers' beacons included) before anything reads its finding: task
    // claiming, metrics and telemetry never see a node whose storage has not been checked yet.
    await monitor.check();

    // A restarting node first settles what its previous life left running, then takes new work.
    const recovered = await withTransaction(pool, (c) => recoverOrphans(c, options.orphanGraceMs, options.offlineThresholdMs, paths.TaskLogs, registry));
    await recovered.afterCommit();
    const scheduler = new Scheduler(pool, config.nodeName, [...taskJobs(options, registry), ...packageJobs(options, (db, e) => recordEvent(db, { ...e, actor: systemActor(config.nodeName) }).then(() => undefined)), eventExportJob(options), telemetryRetentionJob(options)], log, () => liveness.healthy);
    scheduler.start();
    cleanups.push(() => scheduler.stop());
    // Stopped after the engine (cleanups run in reverse): its last snapshot counts the node's last tasks.
    telemetry.start();
    cleanups.push(() => telemetry.stop());
    const engine = new TaskEngine({
      pool, home, nodeId: liveness.id, nodeName: config.nodeName, liveness, notifications, storage: monitor, log, registry,
      pollMs: options.taskPollMs, shutdownGraceMs: options.shutdownGraceMs, worker,
      deadManMs: Math.round(options.offlineThresholdMs / 2), observer,
    });
    metrics.runningTasks = () => engine.runningCount;
    telemetry.runningTasks = () => engine.runningCount;
    await engine.start();
    cleanups.push(() => engine.stop());
    ready = true;
    const url = `http://${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${listen.port}`;
    log.info({ url, epoch: liveness.epoch, version: VERSION }, 'node started');

    let resolveStopped!: () => void;
    const stopped = new Promise<void>((r) => { resolveStopped = r; });
    let stopping: Promise<void> | undefined;
    const stop = (reason: string): Promise<void> => {
      stopping ??= (async () => {
        ready = false; // the ping answers 503 at once, so a load balancer stops sending requests
        log.info({ reason }, 'node stopping');
        await cleanup();
        log.info({}, 'node stopped');
        resolveStopped();
      })();
      return stopping;
    };
    liveness.on('fenced', () => void stop('another start of this node took over'));
    return { url, nodeName: config.nodeName, pool, stopped, stop };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
