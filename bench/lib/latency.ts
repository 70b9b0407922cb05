// Pickup latency on an idle cluster and failover time after a SIGKILL.
import type { Cluster, Node } from './cluster.js';
import { clearTasks } from './queue.js';
import { percentile, round, sleep } from './util.js';

/**
 * QueueTime → StartTime of single Noops posted to an idle cluster, round robin over the nodes.
 * Both times are the database's, so the figure is the queue's own delay (NOTIFY, wake, claim),
 * not the HTTP round trip.
 */
export async function pickupLatency(cluster: Cluster, nodes: readonly Node[], samples: number): Promise<Record<string, number>> {
  await cluster.setCaps(nodes.map((n) => n.name));
  await clearTasks(cluster.db);
  const lat: number[] = [];
  const calls: number[] = []; // the POST's round trip, for comparison
  for (let i = 0; i < samples; i++) {
    const sent = performance.now();
    const t = await cluster.post(nodes[i % nodes.length]!, '/api/tasks', { Name: 'Noop' });
    calls.push(performance.now() - sent);
    for (;;) {
      const r = await cluster.db.query<{ ms: number | null; done: boolean }>(
        `SELECT extract(epoch FROM (start_time - queue_time)) * 1000 AS ms, completed_time IS NOT NULL AS done FROM server_tasks WHERE id = $1`, [t.Id]);
      if (r.rows[0]?.done) { lat.push(Number(r.rows[0].ms)); break; }
      await sleep(2);
    }
    await sleep(20); // idle cluster between samples
  }
  lat.sort((a, b) => a - b);
  calls.sort((a, b) => a - b);
  return {
    nodes: nodes.length, samples, p50_ms: round(percentile(lat, 50)), p99_ms: round(percentile(lat, 99)), max_ms: round(lat[lat.length - 1]!),
    post_p50_ms: round(percentile(calls, 50)),
  };
}

/**
 * A retryable script task runs on some node; that node is SIGKILLed; measured: kill → the task's
 * second attempt started on another node (database clock on both ends).
 */
export async function failover(cluster: Cluster, nodes: readonly Node[]): Promise<Record<string, string | number>> {
  await cluster.setCaps(nodes.map((n) => n.name));
  const t = await cluster.post(nodes[0]!, '/api/tasks', { Name: 'AdHocScript', RetryOnNodeFailure: true, Arguments: { ScriptBody: 'sleep 30' } });
  let owner = '';
  for (;;) {
    const r = await cluster.db.query<{ server_node: string | null; state: string }>('SELECT server_node, state FROM server_tasks WHERE id = $1', [t.Id]);
    if (r.rows[0]?.state === 'Executing') { owner = r.rows[0].server_node!; break; }
    await sleep(5);
  }
  const victim = nodes.find((n) => n.id === owner)!;
  const killed = await cluster.db.query<{ now: Date }>('SELECT clock_timestamp() AS now');
  victim.child.kill('SIGKILL');
  for (let i = 0; ; i++) {
    const r = await cluster.db.query<{ ms: number; node: string }>(
      `SELECT extract(epoch FROM (start_time - $2::timestamptz)) * 1000 AS ms, server_node AS node FROM server_tasks WHERE id = $1 AND state = 'Executing' AND attempt = 2`, [t.Id, killed.rows[0]!.now]);
    if (r.rows[0]) {
      // The task may have ended already (a cancel answers 409 then); either way it is not left running.
      await cluster.post(nodes.find((n) => n !== victim)!, `/api/tasks/${t.Id}/cancel`, {}).catch(async (err) => {
        const row = await cluster.db.query('SELECT state, attempt, error_message FROM server_tasks WHERE id = $1', [t.Id]);
        process.stderr.write(`failover: cancel of ${t.Id}: ${(err as Error).message}; ${JSON.stringify(row.rows[0])}\n`);
      });
      await cluster.stop([victim.name]); // reaps the killed process
      return { from: victim.name, to: r.rows[0].node.replace('OctopusServerNodes-', ''), kill_to_restart_ms: Math.round(Number(r.rows[0].ms)) };
    }
    if (i > 12_000) throw new Error(`failover: task ${t.Id} was not restarted within 60 s`);
    await sleep(5);
  }
}
