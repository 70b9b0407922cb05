import type { Command } from 'commander';
import { readConfig, readMasterKeyFile, type NodeConfig } from '../../config/home.js';
import { openPool, type Pool } from '../../db/pool.js';
import { assertCuttleDatabase, latestKnownVersion, readSchemaState } from '../../db/migrate.js';
import { connectionBudget, readServerConnections } from '../../db/budget.js';
import { parseMasterKey } from '../../crypto/masterKey.js';
import { requireCluster, verifyMasterKey } from '../../cluster/cluster.js';
import { listNodes } from '../../cluster/nodes.js';
import { databasePoolSize, databaseSessionUrl, runtimeOptions } from '../../config/options.js';
import { errorMessage } from '../../errors.js';
import { checkFolders, checkPeerBeacons, homeInsideShared } from '../../storage/folders.js';
import { getSharedPaths, resolvePaths } from '../../storage/sharedPaths.js';
import { storageStatus } from '../../storage/report.js';
import { builtinWorkerFindings } from '../../tasks/builtinWorker.js';
import { readTelemetry, type Snapshot } from '../../ops/telemetry.js';
import { homeOf, homeOption, stdio } from '../shared.js';

/** ok: as it should be; warn: works, but should change (exit 0); fail: a problem (exit 1). */
export type FindingLevel = 'ok' | 'warn' | 'fail';

const LABEL: Record<FindingLevel, string> = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' };

/** The findings of one doctor run, each printed as it is made. */
export class Findings {
  private readonly counts: Record<FindingLevel, number> = { ok: 0, warn: 0, fail: 0 };

  add(level: FindingLevel, text: string): void {
    this.counts[level]++;
    stdio.line(`${LABEL[level]}  ${text}`);
  }

  /** ok when the condition holds, fail otherwise. */
  check(ok: boolean, text: string): void {
    this.add(ok ? 'ok' : 'fail', text);
  }

  get failures(): number { return this.counts.fail; }

  summary(): string {
    const warnings = this.counts.warn ? ` ${this.counts.warn} warning(s).` : '';
    return (this.counts.fail ? `${this.counts.fail} problem(s) found.` : 'No problems found.') + warnings;
  }
}

/** What a check of this machine and home may look at. */
export interface LocalContext {
  readonly home: string;
  readonly config: NodeConfig;
}

/** What a check that needs the database may look at; `pool` answers. */
export interface DoctorContext extends LocalContext {
  readonly pool: Pool;
}

/** A check records its findings; an exception it throws becomes one failed finding, and the other checks still run. */
export type Check<C> = (d: C, f: Findings) => Promise<void> | void;

function homeCheck(d: LocalContext, f: Findings): void {
  f.add('ok', `home ${d.home} (node ${d.config.nodeName})`);
}

/** The master key in the home is the cluster's. */
async function masterKeyCheck(d: DoctorContext, f: Findings): Promise<void> {
  const cluster = await requireCluster(d.pool);
  try {
    verifyMasterKey(cluster, parseMasterKey(readMasterKeyFile(d.home)));
    f.add('ok', 'master key matches the cluster');
  } catch (err) {
    f.add('fail', errorMessage(err));
  }
}

/** The database role: Cuttle needs to own its schema, nothing more. */
async function databaseRoleCheck(d: DoctorContext, f: Findings): Promise<void> {
  const server = await readServerConnections(d.pool);
  if (server.superuser) {
    f.add('warn', `the database role "${server.role}" is a superuser: a leaked database password (or a bug) could read or change every database on the server; create a role that only owns Cuttle's database (see "The database role" in the README) and put it in databaseUrl`);
  } else {
    f.add('ok', `the database role "${server.role}" is not a superuser`);
  }
}

/** Every registered node's connections against the server's max_connections. */
async function connectionBudgetCheck(d: DoctorContext, f: Findings): Promise<void> {
  const nodes = await listNodes(d.pool, runtimeOptions().offlineThresholdMs);
  const server = await readServerConnections(d.pool);
  const options = runtimeOptions();
  const viaPooler = databaseSessionUrl(d.config, options) !== d.config.databaseUrl;
  const budget = connectionBudget(nodes.length, databasePoolSize(d.config, options), server, viaPooler);
  f.add(budget.fits ? 'ok' : 'warn', budget.text);
}

/** Every shared folder: usable here, outside the home, and the same folder the other live nodes see. */
async function sharedStorageCheck(d: DoctorContext, f: Findings): Promise<void> {
  const settings = await getSharedPaths(d.pool);
  const paths = resolvePaths(settings);
  if (!paths) {
    f.add('fail', 'no shared storage configured: run `cuttle path --cluster-shared DIR`');
    return;
  }
  for (const c of await checkFolders(paths, false)) f.check(c.ok, c.ok ? `${c.name} ${c.path} is readable and writable` : c.problem!);
  const inside = homeInsideShared(d.home, paths, settings.clusterShared);
  if (inside) f.add('fail', `the home ${d.home} lies inside shared storage (${inside})`);
  const nodes = await listNodes(d.pool, runtimeOptions().offlineThresholdMs);
  const unseen = await checkPeerBeacons(paths, d.config.nodeName, nodes);
  const livePeers = nodes.filter((n) => n.online && n.name !== d.config.nodeName);
  if (livePeers.length === 0) f.add('ok', 'no other live node to compare shared folders with');
  else if (unseen.length === 0) f.add('ok', `this node sees the same shared folders as ${livePeers.map((n) => n.name).join(', ')}`);
  for (const u of unseen) f.add('fail', `cannot see ${u.node}'s beacon in ${u.folder} (${u.problem}): this node's ${u.folder} is not the folder ${u.node} uses`);
  for (const n of nodes.filter((x) => x.online)) {
    for (const p of storageStatus(n, nodes).Problems) f.add('fail', `reported by the cluster: ${p}`);
  }
}

/** The built-in worker: whom scripts run as, what of the node they could reach, how they are contained. */
async function builtinWorkerCheck(d: DoctorContext, f: Findings): Promise<void> {
  const settings = await getSharedPaths(d.pool);
  const paths = resolvePaths(settings);
  const places = { home: d.home, config: d.config, ...(paths ? { paths } : {}), ...(settings.clusterShared ? { clusterShared: settings.clusterShared } : {}) };
  for (const w of await builtinWorkerFindings(places)) f.add(w.level, w.text);
}

const seconds = (n: number | null | undefined): string => (n === null || n === undefined ? '–' : n < 10 ? `${n.toFixed(2)} s` : `${Math.round(n)} s`);

/**
 * The cluster's last hour, from the snapshots every node writes to the shared Telemetry folder:
 * per node, what it ran and how long that took, the deepest queue and the oldest heartbeat it saw,
 * and any shared-folder problem it reported.
 */
async function telemetryCheck(d: DoctorContext, f: Findings): Promise<void> {
  const dir = resolvePaths(await getSharedPaths(d.pool))?.Telemetry;
  if (!dir) return;
  const now = Date.now();
  const snapshots = await readTelemetry(dir, new Date(now - 3_600_000));
  const nodes = await listNodes(d.pool, runtimeOptions().offlineThresholdMs);
  if (snapshots.length === 0) {
    f.add(nodes.some((n) => n.online) ? 'warn' : 'ok', `no telemetry in ${dir} from the last hour${nodes.some((n) => n.online) ? ': the live nodes write a snapshot every minute (CUTTLE_TELEMETRY_SECONDS), so check that they can write there' : ' (no node is running)'}`);
    return;
  }
  const byNode = new Map<string, Snapshot[]>();
  for (const s of snapshots) byNode.set(s.node, [...(byNode.get(s.node) ?? []), s]);
  const offlineSeconds = runtimeOptions().offlineThresholdMs / 1000;
  f.add('ok', `the cluster's last hour, from ${snapshots.length} telemetry snapshot(s) of ${byNode.size} node(s) in ${dir}:`);
  for (const [node, list] of [...byNode].sort(([a], [b]) => a.localeCompare(b))) {
    const last = list[list.length - 1]!;
    const finished: Record<string, number> = {};
    for (const s of list) for (const [state, n] of Object.entries(s.tasks.finished)) finished[state] = (finished[state] ?? 0) + (n ?? 0);
    const ran = Object.values(finished).reduce((a, b) => a + b, 0);
    const p95 = Math.max(0, ...list.map((s) => s.tasks.durationSeconds.p95 ?? 0));
    const longest = Math.max(0, ...list.map((s) => s.tasks.durationSeconds.max ?? 0));
    const queue = Math.max(0, ...list.map((s) => s.queue?.queued ?? 0));
    const ages = list.flatMap((s) => (s.nodes ?? []).filter((n) => n.online && n.name !== node).map((n) => n.heartbeatAgeSeconds ?? 0));
    const lag = Math.max(0, ...list.map((s) => s.process.eventLoopLagP99Ms));
    const states = Object.entries(finished).map(([k, v]) => `${k} ${v}`).join(', ');
    const age = (now - Date.parse(last.time)) / 1000;
    f.add('ok', `  ${node}: ${list.length} snapshot(s), the last ${seconds(age)} ago; ran ${ran} task(s)${states ? ` (${states})` : ''}, slowest interval p95 ${seconds(p95)}, longest ${seconds(longest)}; queue up to ${queue}; peers' heartbeats up to ${seconds(ages.length ? Math.max(...ages) : null)} old; event-loop lag p99 up to ${lag.toFixed(1)} ms; ${Math.round(last.process.rssBytes / 1048576)} MB resident`);
    const online = nodes.find((n) => n.name === node)?.online ?? false;
    if (online && age > 3 * last.intervalSeconds + 5) f.add('warn', `  ${node} is online but wrote no telemetry for ${seconds(age)} (every ${seconds(last.intervalSeconds)} expected): can it still write ${dir}?`);
    const stale = ages.filter((a) => a > offlineSeconds);
    if (stale.length) f.add('warn', `  ${node} saw a peer's heartbeat ${seconds(Math.max(...stale))} old (offline after ${seconds(offlineSeconds)}) ${stale.length} time(s) in the hour`);
    const problems = new Set(list.flatMap((s) => s.storage.filter((x) => !x.ok).map((x) => `${x.folder}: ${x.problem ?? 'not usable'}`)));
    for (const p of problems) f.add('warn', `  ${node} reported a shared-folder problem in the hour: ${p}`);
    const errors = new Set(list.flatMap((s) => (s.error ? [s.error] : [])));
    for (const e of errors) f.add('warn', `  ${node}: ${e}`);
  }
}

/** Checks of this machine and home alone, in the order they print: they run even when the database cannot be reached. */
const LOCAL_CHECKS: readonly Check<LocalContext>[] = [
  homeCheck,
];

/** Checks that need the database (reachable, and Cuttle's), in the order they print. */
const DATABASE_CHECKS: readonly Check<DoctorContext>[] = [
  masterKeyCheck,
  databaseRoleCheck,
  connectionBudgetCheck,
  sharedStorageCheck,
  builtinWorkerCheck,
  telemetryCheck,
];

async function run<C>(checks: readonly Check<C>[], d: C, f: Findings): Promise<void> {
  for (const check of checks) {
    try {
      await check(d, f);
    } catch (err) {
      f.add('fail', errorMessage(err));
    }
  }
}

export function doctorCommand(program: Command): void {
  homeOption(program.command('doctor'))
    .description('check the database (role, connection budget), master key, schema version and every shared folder, show the cluster\'s last hour from telemetry, and print each finding')
    .action(async (opts: { home?: string }) => {
      const home = homeOf(opts);
      const f = new Findings();
      let pool: Pool | undefined;
      try {
        const config = readConfig(home);
        await run(LOCAL_CHECKS, { home, config }, f);
        pool = await openPool(config.databaseUrl, { max: 2, applicationName: 'cuttle doctor' });
        f.add('ok', 'database reachable');
        const state = await readSchemaState(pool);
        assertCuttleDatabase(state);
        f.check(state.version === latestKnownVersion(), `schema version ${state.version} (this Cuttle knows ${latestKnownVersion()})${state.version < latestKnownVersion() ? ': run `cuttle database --upgrade`' : state.version > latestKnownVersion() ? ': this node is older than the cluster, upgrade it' : ''}`);
        await run(DATABASE_CHECKS, { home, config, pool }, f);
      } catch (err) {
        f.add('fail', errorMessage(err));
      } finally {
        await pool?.end().catch(() => undefined);
      }
      stdio.line(f.summary());
      if (f.failures) process.exitCode = 1;
    });
}
