// The node's Prometheus metrics (prom-client): what this node does (claims, results, durations,
// HTTP), what it sees of the cluster (queue, peers' heartbeats, shared folders) and its own health
// (event-loop lag, memory, database pool). Every series carries the label node="<name>", so scrapes
// of several nodes through one load balancer still tell them apart.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Pool } from '../db/pool.js';
import type { TaskObserver, TaskRow, TaskState } from '../tasks/types.js';
import { readClusterView, type ClusterView } from './clusterView.js';

export interface NodeMetricsOptions {
  readonly pool: Pool;
  readonly nodeName: string;
  readonly offlineThresholdMs: number;
  /** The database pool's size (its `max`). */
  readonly poolMax: number;
}

const DURATION_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];
const PICKUP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const HTTP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class NodeMetrics implements TaskObserver {
  readonly registry = new Registry();
  /** Set once the engine exists: how many tasks run here now. */
  runningTasks: () => number = () => 0;
  private readonly claimedTotal: Counter;
  private readonly finishedTotal: Counter<'state' | 'type'>;
  private readonly duration: Histogram<'state' | 'type'>;
  private readonly pickup: Histogram;
  private readonly http: Histogram<'method' | 'route' | 'status'>;

  constructor(private readonly o: NodeMetricsOptions) {
    const registers = [this.registry];
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- prom-client calls collect() with the gauge as `this`
    const self = this;
    this.registry.setDefaultLabels({ node: o.nodeName });
    // process_* and nodejs_* (nodejs_eventloop_lag_seconds among them), as every Node exporter names them.
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 10 });
    this.claimedTotal = new Counter({ name: 'cuttle_tasks_claimed_total', help: 'Tasks this node claimed from the queue and started.', registers });
    this.finishedTotal = new Counter({ name: 'cuttle_tasks_finished_total', help: 'Tasks this node ran to a recorded result, by final state and task type.', labelNames: ['state', 'type'], registers });
    this.duration = new Histogram({ name: 'cuttle_task_duration_seconds', help: 'How long the tasks this node ran took, from its start to its result.', labelNames: ['state', 'type'], buckets: DURATION_BUCKETS, registers });
    this.pickup = new Histogram({ name: 'cuttle_task_pickup_seconds', help: 'From a task\'s queue time to its start on this node (database clock).', buckets: PICKUP_BUCKETS, registers });
    this.http = new Histogram({ name: 'cuttle_http_request_duration_seconds', help: 'HTTP requests this node answered, by route pattern and status.', labelNames: ['method', 'route', 'status'], buckets: HTTP_BUCKETS, registers });
    new Gauge({
      name: 'cuttle_tasks_running', help: 'Tasks running on this node now.', registers,
      collect() { this.set(self.runningTasks()); },
    });
    const pool = o.pool;
    new Gauge({
      name: 'cuttle_db_pool_connections', help: 'This node\'s PostgreSQL pool: open connections (total), idle ones, requests waiting for one, and its size (max).', labelNames: ['state'], registers,
      collect() {
        this.set({ state: 'total' }, pool.totalCount);
        this.set({ state: 'idle' }, pool.idleCount);
        this.set({ state: 'waiting' }, pool.waitingCount);
        this.set({ state: 'max' }, o.poolMax);
      },
    });
    // The cluster as this node sees it: one read per scrape, shared by the gauges below.
    // undefined: the database did not answer this scrape.
    let cluster: Promise<ClusterView | undefined> | undefined;
    const view = (): Promise<ClusterView | undefined> => {
      cluster ??= readClusterView(o.pool, o.nodeName, o.offlineThresholdMs).catch(() => undefined)
        .finally(() => { setTimeout(() => { cluster = undefined; }, 0).unref(); });
      return cluster;
    };
    const up = new Gauge({ name: 'cuttle_database_up', help: '1 when this node could read the cluster from the database during this scrape.', registers });
    new Gauge({
      name: 'cuttle_tasks_queued', help: 'Tasks waiting in the cluster\'s queue.', registers,
      async collect() { const v = await view(); up.set(v ? 1 : 0); if (v) this.set(v.queue.queued); else this.reset(); },
    });
    new Gauge({
      name: 'cuttle_tasks_active', help: 'Tasks executing or cancelling on any node of the cluster.', registers,
      async collect() { const v = await view(); if (v) this.set(v.queue.active); else this.reset(); },
    });
    new Gauge({
      name: 'cuttle_nodes_online', help: 'Nodes of the cluster that are online (this one included).', registers,
      async collect() { const v = await view(); if (v) this.set(v.nodes.filter((n) => n.online).length); else this.reset(); },
    });
    new Gauge({
      name: 'cuttle_node_heartbeat_age_seconds', help: 'Seconds since each registered node\'s last heartbeat, by the database\'s clock.', labelNames: ['peer'], registers,
      async collect() {
        const v = await view();
        this.reset();
        for (const n of v?.nodes ?? []) if (n.heartbeatAgeSeconds !== null) this.set({ peer: n.name }, n.heartbeatAgeSeconds);
      },
    });
    new Gauge({
      name: 'cuttle_node_online', help: '1 for each registered node that is online, 0 for one that is not.', labelNames: ['peer'], registers,
      async collect() {
        const v = await view();
        this.reset();
        for (const n of v?.nodes ?? []) this.set({ peer: n.name }, n.online ? 1 : 0);
      },
    });
    new Gauge({
      name: 'cuttle_shared_folder_ok', help: 'This node\'s last check of each shared folder: 1 readable and writable (and the peers\' beacons seen), 0 not.', labelNames: ['folder'], registers,
      async collect() {
        const v = await view();
        this.reset();
        for (const f of v?.folders ?? []) this.set({ folder: f.folder }, f.ok ? 1 : 0);
      },
    });
    new Gauge({
      name: 'cuttle_shared_folder_check_age_seconds', help: 'Seconds since this node last checked its shared folders.', registers,
      async collect() { const v = await view(); if (v?.checkedAt) this.set(Math.max(0, (Date.now() - v.checkedAt.getTime()) / 1000)); else this.reset(); },
    });
  }

  claimed(task: TaskRow): void {
    this.claimedTotal.inc();
    if (task.startTime) this.pickup.observe(Math.max(0, task.startTime.getTime() - task.queueTime.getTime()) / 1000);
  }

  finished(task: TaskRow, state: TaskState, durationMs: number): void {
    this.finishedTotal.inc({ state, type: task.name });
    this.duration.observe({ state, type: task.name }, durationMs / 1000);
  }

  /** One answered HTTP request; `route` is the matched pattern (never the raw URL, whose ids would explode the series). */
  request(method: string, route: string, status: number, seconds: number): void {
    this.http.observe({ method, route, status: String(status) }, seconds);
  }

  /** The exposition text (Prometheus 0.0.4 format). */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
