// API-driven end to end: tasks queued one HTTP call at a time by concurrent clients, as a CI
// system or script would, and run by the nodes while the calls go on.
import type { Cluster, Node } from './cluster.js';
import { config } from './config.js';
import { POLL_MS, clearTasks, describeQueue, queueBusy } from './queue.js';
import { percentile, rate, round, until } from './util.js';

/**
 * `clients` concurrent clients, each POSTing {Name: "Noop"} to /api/tasks and waiting for the
 * answer before its next call; client i talks to node i % nodes. Rate = count / (first POST → the
 * poll sees no task queued or running).
 */
export async function cuttleEndToEnd(cluster: Cluster, nodes: readonly Node[], clients: number, count: number): Promise<Record<string, number>> {
  await cluster.setCaps([]);
  await clearTasks(cluster.db);
  await cluster.setCaps(nodes.map((n) => n.name));
  let issued = 0;
  // Each call's round trip: with one call in flight per client, the enqueue rate is clients / this.
  const calls: number[] = [];
  const started = Date.now();
  await Promise.all(Array.from({ length: clients }, async (_, i) => {
    const node = nodes[i % nodes.length]!;
    while (issued < count) {
      issued++;
      const t = performance.now();
      await cluster.post(node, '/api/tasks', { Name: 'Noop' });
      calls.push(performance.now() - t);
    }
  }));
  calls.sort((a, b) => a - b);
  const postedMs = Date.now() - started;
  await until(async () => !(await queueBusy(cluster.db)), POLL_MS, 600_000, () => describeQueue(cluster.db));
  const ms = Date.now() - started;
  const ok = await cluster.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM server_tasks WHERE state = 'Success'`);
  if (ok.rows[0]!.n !== count) throw new Error(`end to end: ${ok.rows[0]!.n} of ${count} tasks succeeded`);
  return { nodes: nodes.length, task_cap: config.cap, clients, tasks: count, enqueue_seconds: +(postedMs / 1000).toFixed(3),
    post_p50_ms: round(percentile(calls, 50)), post_p99_ms: round(percentile(calls, 99)), ...rate(count, ms) };
}
