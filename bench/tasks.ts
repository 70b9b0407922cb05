// bench/tasks: the task queue against issue #6's targets, measured side by side in one run on one
// embedded PostgreSQL, with graphile-worker as the reference. Prints one JSON document: `summary`
// (the target figures) first, then each section's details. Not part of `npm test`.
//   npm run bench:tasks                          everything, full size (minutes)
//   BENCH_QUICK=1 BENCH_ONLY=deep npm run bench:tasks    one section, small (see bench/lib/config.ts)
// Sections: pickup (latency on an idle 1- and 2-node cluster), drain (pre-queued Noops with 1, 2, 4
// nodes vs graphile-worker), e2e (16 HTTP clients → 2 nodes vs 16 addJob clients → 2 workers),
// failover (SIGKILL → task running elsewhere), deep (5,000 vs 100,000 queued, untagged and tagged),
// explain (plans against 100,000 queued and 1,000,000 finished tasks).
import { cpus, loadavg } from 'node:os';
import { Cluster } from './lib/cluster.js';
import { config, wants } from './lib/config.js';
import { cuttleEndToEnd } from './lib/e2e.js';
import { explainPlans } from './lib/explain.js';
import { graphileDrain, graphileEndToEnd } from './lib/graphile.js';
import { failover, pickupLatency } from './lib/latency.js';
import { cuttleDrain } from './lib/queue.js';
import { medianOf, pairedMedians, ratio } from './lib/util.js';

type Result = Record<string, any>;

async function pickup(c: Cluster, out: Result): Promise<void> {
  out.one_node = await pickupLatency(c, await c.start('b1'), config.samples);
  out.two_nodes = await pickupLatency(c, await c.start('b1', 'b2'), config.samples);
}

/**
 * Pre-queued Noops. One node against one worker process and two against two, alternating run by
 * run with the reference; four nodes on their own (the reference has no four-process run).
 */
async function drain(c: Cluster, out: Result): Promise<void> {
  for (const [label, names] of [['one_node', ['b1']], ['two_nodes', ['b1', 'b2']]] as const) {
    await c.start(...names);
    const [cuttle, reference] = await pairedMedians(config.runs,
      () => cuttleDrain(c, names, config.tasks), 'tasks_per_second',
      () => graphileDrain(c.graphileUrl, names.length, config.tasks), 'jobs_per_second', config.warmup);
    out[label] = { cuttle, graphile_worker: reference, ratio: ratio(cuttle.tasks_per_second, reference.jobs_per_second) };
  }
  const four = ['b1', 'b2', 'b3', 'b4'];
  await c.start(...four);
  out.four_nodes = { cuttle: await medianOf(config.runs, () => cuttleDrain(c, four, config.tasks), 'tasks_per_second') };
  await c.stop(['b3', 'b4']);
}

async function e2e(c: Cluster, out: Result): Promise<void> {
  const nodes = await c.start('b1', 'b2');
  const [cuttle, reference] = await pairedMedians(config.runs,
    () => cuttleEndToEnd(c, nodes, config.clients, config.e2eTasks), 'tasks_per_second',
    () => graphileEndToEnd(c.graphileUrl, 2, config.clients, config.e2eTasks), 'jobs_per_second', config.warmup);
  Object.assign(out, { cuttle, graphile_worker: reference, ratio: ratio(cuttle.tasks_per_second, reference.jobs_per_second) });
}

/**
 * One node draining a shallow and a deep queue, untagged and tagged. Beside each whole-drain rate,
 * the deep run's rate over its first `shallow` completions: the queue is then at its deepest. The
 * shallow figure is the median of `runs` drains (one takes seconds, so one alone is noise), after
 * `warmup` unmeasured ones; the deep drain is one run of a minute or more.
 */
async function deep(c: Cluster, out: Result): Promise<void> {
  await c.start('b1');
  for (const [label, tags] of [['untagged', 0], ['tagged', config.tags]] as const) {
    const warmup: number[] = [];
    for (let i = 0; i < config.warmup; i++) warmup.push((await cuttleDrain(c, ['b1'], config.shallow, { tags })).tasks_per_second!);
    const shallow = Object.assign(await medianOf(config.runs, () => cuttleDrain(c, ['b1'], config.shallow, { tags }), 'tasks_per_second'), { warmup_runs: warmup });
    const deepRun = await cuttleDrain(c, ['b1'], config.deep, { tags, head: config.shallow });
    out[label] = {
      shallow, deep: deepRun,
      ratio: ratio(deepRun.tasks_per_second, shallow.tasks_per_second),
      head_ratio: ratio(deepRun[`first_${config.shallow}_tasks_per_second`], shallow.tasks_per_second),
    };
  }
}

function summary(r: Result): Result {
  const within = (v: number | null | undefined, lo: number, hi = Infinity) => (v === null || v === undefined ? null : v >= lo && v <= hi);
  const s = {
    e2e_vs_graphile: r.e2e?.ratio ?? null,
    drain_vs_graphile: r.drain?.one_node?.ratio ?? null,
    drain_vs_graphile_two_nodes: r.drain?.two_nodes?.ratio ?? null,
    deep_vs_shallow_untagged: r.deep?.untagged?.ratio ?? null,
    deep_vs_shallow_tagged: r.deep?.tagged?.ratio ?? null,
    deep_head_vs_shallow_untagged: r.deep?.untagged?.head_ratio ?? null,
    deep_head_vs_shallow_tagged: r.deep?.tagged?.head_ratio ?? null,
    pickup_p50_ms: r.pickup ? { one_node: r.pickup.one_node.p50_ms, two_nodes: r.pickup.two_nodes.p50_ms } : null,
    failover_ms: r.failover?.kill_to_restart_ms ?? null,
    slowest_plan: slowestPlan(r.explain),
  };
  const p50 = s.pickup_p50_ms ? Math.max(s.pickup_p50_ms.one_node, s.pickup_p50_ms.two_nodes) : null;
  return {
    ...s,
    targets: {
      e2e_vs_graphile: '>= 1.00', drain_vs_graphile: '>= 1.00', deep_vs_shallow: 'within 20 % (0.80 .. 1.20)', pickup_p50_ms: '<= 5',
    },
    met: {
      e2e_vs_graphile: within(s.e2e_vs_graphile, 1),
      drain_vs_graphile: within(s.drain_vs_graphile, 1),
      deep_vs_shallow_untagged: within(s.deep_vs_shallow_untagged, 0.8, 1.2),
      deep_vs_shallow_tagged: within(s.deep_vs_shallow_tagged, 0.8, 1.2),
      pickup_p50_ms: p50 === null ? null : p50 <= 5,
    },
  };
}

function slowestPlan(explain: Result | undefined): Result | null {
  const plans = (explain?.plans ?? []).filter((p: Result) => typeof p.execution_ms === 'number');
  if (!plans.length) return null;
  const p = plans.reduce((a: Result, b: Result) => (b.execution_ms > a.execution_ms ? b : a));
  return { name: p.name, execution_ms: p.execution_ms };
}

async function main(): Promise<void> {
  const cluster = await Cluster.create();
  const started = Date.now();
  // Other work on the machine skews every figure: the load averages say how much there was.
  const loadAtStart = loadavg().map((x) => +x.toFixed(2));
  const r: Result = {};
  const section = async (name: Parameters<typeof wants>[0], fn: (c: Cluster, out: Result) => Promise<void>) => {
    if (!wants(name)) return;
    const t = Date.now();
    r[name] = {};
    await fn(cluster, r[name]);
    r[name].section_seconds = Math.round((Date.now() - t) / 1000);
  };
  try {
    await section('pickup', pickup);
    await section('drain', drain);
    await section('e2e', e2e);
    await section('failover', async (c, out) => { Object.assign(out, await failover(c, await c.start('b1', 'b2'))); });
    await section('deep', async (c, out) => { await c.stop(['b2', 'b3', 'b4']); await deep(c, out); });
    // Last: it leaves 1,100,000 rows behind, and no node may run while its claims are explained.
    await section('explain', async (c, out) => { await c.stop(); Object.assign(out, await explainPlans(c.db, 'b1', config.explainQueued, config.explainFinished)); });
    const details = {
      machine: { cpus: cpus().length, load_average_at_start: loadAtStart, load_average_at_end: loadavg().map((x) => +x.toFixed(2)) },
      config: { ...config, only: [...config.only] },
      total_seconds: Math.round((Date.now() - started) / 1000),
    };
    process.stdout.write(JSON.stringify({ summary: summary(r), ...details, ...r }, null, 2) + '\n');
  } finally {
    await cluster.close();
  }
}

main().catch((err) => { console.error(err); process.exitCode = 1; });
