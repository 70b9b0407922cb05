// bench/deployments: what the deployment machinery costs on top of the task engine, measured side by
// side in one run on one embedded PostgreSQL. Deployments of one-step projects (`echo`) are queued back
// to back through `deployments/create/untenanted/v1` by concurrent clients on 1 and 2 nodes, against
// the same script queued as bare `AdHocScript` tasks through `POST /api/tasks` by the same clients.
// Prints one JSON document: `summary` first. Not part of `npm test`.
//   npm run bench:deployments
//   BENCH_QUICK=1 npm run bench:deployments        small and single runs
//   BENCH_DEPLOYS (200), BENCH_CLIENTS (8), BENCH_RUNS (3)
import { cpus, loadavg } from 'node:os';
import { API_KEY, Cluster, type Node } from './lib/cluster.js';
import { config } from './lib/config.js';
import { pairedMedians, percentile, ratio, round, sleep } from './lib/util.js';

const env = process.env;
function size(name: string, full: number, small: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return config.quick ? small : full;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name}="${raw}" must be a whole number of at least 1.`);
  return v;
}
const DEPLOYS = size('BENCH_DEPLOYS', 200, 40);
const CLIENTS = size('BENCH_CLIENTS', 8, 8);
const RUNS = size('BENCH_RUNS', 3, 1);
const PROJECTS = 8;
const ENVIRONMENTS = ['Dev', 'Test', 'Staging', 'Prod'];

async function get(n: Node, path: string): Promise<any> {
  const r = await fetch(n.url + path, { headers: { 'X-Octopus-ApiKey': API_KEY } });
  if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
  return r.json();
}

/** Eight projects with one Bash step each, a release of each, four environments (32 project/environment tags). */
async function setup(c: Cluster, n: Node): Promise<void> {
  for (const name of ENVIRONMENTS) await c.post(n, '/api/Spaces-1/environments', { Name: name });
  const group = (await get(n, '/api/Spaces-1/projectgroups?take=1')).Items[0].Id as string;
  const lifecycle = (await get(n, '/api/Spaces-1/lifecycles?take=1')).Items[0].Id as string;
  for (let i = 1; i <= PROJECTS; i++) {
    const p = await c.post(n, '/api/Spaces-1/projects', { Name: `Bench${i}`, ProjectGroupId: group, LifecycleId: lifecycle });
    const process = await get(n, `/api/Spaces-1/projects/${p.Id}/deploymentprocesses`);
    const r = await fetch(`${n.url}/api/Spaces-1/projects/${p.Id}/deploymentprocesses`, {
      method: 'PUT', headers: { 'content-type': 'application/json', 'X-Octopus-ApiKey': API_KEY },
      body: JSON.stringify({ ...process, Steps: [{ Name: 'Echo', Actions: [{ Name: 'Echo', ActionType: 'Octopus.Script', Properties: { 'Octopus.Action.RunOnServer': 'true', 'Octopus.Action.Script.Syntax': 'Bash', 'Octopus.Action.Script.ScriptBody': 'echo "hello #{Octopus.Environment.Name}"' } }] }] }),
    });
    if (!r.ok) throw new Error(`process: ${r.status} ${await r.text()}`);
    await c.post(n, '/api/Spaces-1/releases/create/v1', { ProjectName: `Bench${i}`, ReleaseVersion: '1.0.0' });
  }
}

/** `count` POSTs by `clients` clients (client i to node i % nodes); returns the task ids and the first POST's time. */
async function queue(nodes: readonly Node[], count: number, post: (n: Node, i: number) => Promise<string>): Promise<{ ids: string[]; posts: number[] }> {
  let issued = 0;
  const ids: string[] = [];
  const posts: number[] = [];
  await Promise.all(Array.from({ length: CLIENTS }, async (_, client) => {
    const n = nodes[client % nodes.length]!;
    while (issued < count) {
      const i = issued++;
      const t = performance.now();
      ids.push(await post(n, i));
      posts.push(performance.now() - t);
    }
  }));
  return { ids, posts: posts.sort((a, b) => a - b) };
}

/** Waits until every task is final; rate and latency (queue → completed, database clock) of the batch. */
async function measure(c: Cluster, ids: string[], posts: number[], started: number, key: string): Promise<Record<string, number>> {
  for (;;) {
    const r = await c.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM server_tasks WHERE id = ANY($1) AND state IN ('Queued', 'Executing', 'Cancelling')`, [ids]);
    if (r.rows[0]!.n === 0) break;
    await sleep(20);
  }
  const ms = Date.now() - started;
  const rows = await c.db.query<{ state: string; ms: number }>(`SELECT state, extract(epoch FROM (completed_time - queue_time)) * 1000 AS ms FROM server_tasks WHERE id = ANY($1)`, [ids]);
  const bad = rows.rows.filter((x) => x.state !== 'Success');
  if (bad.length) throw new Error(`${bad.length} of ${ids.length} ${key} did not succeed (${bad[0]!.state})`);
  const lat = rows.rows.map((x) => Number(x.ms)).sort((a, b) => a - b);
  return {
    count: ids.length, clients: CLIENTS, seconds: round(ms / 1000, 3), [`${key}_per_second`]: round(ids.length / (ms / 1000), 1),
    queued_to_success_p50_ms: round(percentile(lat, 50)), queued_to_success_p99_ms: round(percentile(lat, 99)),
    post_p50_ms: round(percentile(posts, 50)), post_p99_ms: round(percentile(posts, 99)),
  };
}

async function deployments(c: Cluster, nodes: readonly Node[]): Promise<Record<string, number>> {
  const started = Date.now();
  const { ids, posts } = await queue(nodes, DEPLOYS, async (n, i) => {
    const r = await c.post(n, '/api/Spaces-1/deployments/create/untenanted/v1', {
      ProjectName: `Bench${(i % PROJECTS) + 1}`, ReleaseVersion: '1.0.0', EnvironmentNames: [ENVIRONMENTS[Math.floor(i / PROJECTS) % ENVIRONMENTS.length]!],
    });
    return r.DeploymentServerTasks[0].ServerTaskId as string;
  });
  return measure(c, ids, posts, started, 'deployments');
}

async function scripts(c: Cluster, nodes: readonly Node[]): Promise<Record<string, number>> {
  const started = Date.now();
  const { ids, posts } = await queue(nodes, DEPLOYS, async (n, i) => {
    const r = await c.post(n, '/api/tasks', { Name: 'AdHocScript', Arguments: { ScriptBody: `echo "hello ${ENVIRONMENTS[i % ENVIRONMENTS.length]!}"`, Syntax: 'Bash' } });
    return r.Id as string;
  });
  return measure(c, ids, posts, started, 'scripts');
}

async function main(): Promise<void> {
  const c = await Cluster.create();
  const out: Record<string, any> = {};
  try {
    const [b1] = await c.start('b1');
    await setup(c, b1!);
    for (const [label, names] of [['one_node', ['b1']], ['two_nodes', ['b1', 'b2']]] as const) {
      const nodes = await c.start(...names);
      await c.setCaps(names);
      const [deploy, script] = await pairedMedians(RUNS, () => deployments(c, nodes), 'deployments_per_second', () => scripts(c, nodes), 'scripts_per_second');
      out[label] = { deployments: deploy, adhoc_scripts: script, rate_ratio: ratio(deploy.deployments_per_second, script.scripts_per_second) };
    }
  } finally {
    await c.close();
  }
  const summary = Object.fromEntries(Object.entries(out).map(([k, v]) => [k, {
    deployments_per_second: v.deployments.deployments_per_second, adhoc_scripts_per_second: v.adhoc_scripts.scripts_per_second, rate_ratio: v.rate_ratio,
    deployment_p50_ms: v.deployments.queued_to_success_p50_ms, deployment_p99_ms: v.deployments.queued_to_success_p99_ms,
    script_p50_ms: v.adhoc_scripts.queued_to_success_p50_ms, script_p99_ms: v.adhoc_scripts.queued_to_success_p99_ms,
  }]));
  process.stdout.write(JSON.stringify({ summary, machine: { cpus: cpus().length, loadavg: loadavg().map((x) => round(x)) }, config: { deploys: DEPLOYS, clients: CLIENTS, runs: RUNS, task_cap: config.cap }, ...out }, null, 2) + '\n');
}

await main();
