// Each node appends a snapshot of what it did and saw to the shared Telemetry folder every
// CUTTLE_TELEMETRY_SECONDS (60): one JSON line, in one file per node per UTC day
// (telemetry-<node>-YYYY-MM-DD.jsonl). `cuttle doctor` reads them back to show the cluster's last
// hour; a cluster-wide job removes files older than the setting `telemetry.retention_days` (30).
import { appendFile, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { ClusterJob } from '../cluster/jobs.js';
import type { RuntimeOptions } from '../config/options.js';
import type { Pool } from '../db/pool.js';
import { errorMessage } from '../errors.js';
import { getSharedPaths, resolvePaths, type ResolvedPaths } from '../storage/sharedPaths.js';
import { numberSetting } from '../tasks/queries.js';
import type { TaskObserver, TaskRow, TaskState } from '../tasks/types.js';
import { readClusterView } from './clusterView.js';

export const TELEMETRY_RETENTION_SETTING = 'telemetry.retention_days';
export const DEFAULT_TELEMETRY_RETENTION_DAYS = 30;
/** Durations kept per interval for its percentiles; beyond it, every other one is dropped. */
const MAX_SAMPLES = 10_000;

/** One line of a telemetry file. */
export interface Snapshot {
  readonly time: string;
  readonly node: string;
  readonly version: string;
  readonly intervalSeconds: number;
  /** What this node did since its previous snapshot. */
  readonly tasks: {
    readonly claimed: number;
    readonly finished: Partial<Record<TaskState, number>>;
    readonly durationSeconds: { readonly count: number; readonly p50: number | null; readonly p95: number | null; readonly max: number | null };
    readonly running: number;
  };
  /** The cluster as this node saw it (null when the database did not answer). */
  readonly queue: { readonly queued: number; readonly active: number } | null;
  readonly nodes: readonly { readonly name: string; readonly online: boolean; readonly heartbeatAgeSeconds: number | null }[] | null;
  readonly storage: readonly { readonly folder: string; readonly ok: boolean; readonly problem?: string }[];
  readonly process: { readonly rssBytes: number; readonly heapUsedBytes: number; readonly eventLoopLagP99Ms: number; readonly dbPool: { readonly total: number; readonly idle: number; readonly waiting: number } };
  readonly error?: string;
}

export function telemetryFileName(node: string, day: string): string {
  return `telemetry-${node}-${day}.jsonl`;
}

const FILE = /^telemetry-(.+)-(\d{4}-\d{2}-\d{2})\.jsonl$/;

function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
}

const round = (n: number, digits = 3): number => Math.round(n * 10 ** digits) / 10 ** digits;

export interface TelemetryOptions {
  readonly pool: Pool;
  readonly nodeName: string;
  readonly version: string;
  readonly intervalMs: number;
  readonly offlineThresholdMs: number;
  readonly sharedPaths: () => ResolvedPaths | undefined;
  readonly log: Logger;
}

export class Telemetry implements TaskObserver {
  /** Set once the engine exists: how many tasks run here now. */
  runningTasks: () => number = () => 0;
  private timer: NodeJS.Timeout | undefined;
  private claimedCount = 0;
  private finishedCount: Partial<Record<TaskState, number>> = {};
  private durations: number[] = [];
  private readonly lag: IntervalHistogram = monitorEventLoopDelay({ resolution: 10 });
  private writing: Promise<void> = Promise.resolve();
  private failing = false;

  constructor(private readonly o: TelemetryOptions) {}

  claimed(_task: TaskRow): void {
    this.claimedCount++;
  }

  finished(_task: TaskRow, state: TaskState, durationMs: number): void {
    this.finishedCount[state] = (this.finishedCount[state] ?? 0) + 1;
    if (this.durations.length >= MAX_SAMPLES) this.durations = this.durations.filter((_, i) => i % 2 === 0);
    this.durations.push(durationMs / 1000);
  }

  start(): void {
    this.lag.enable();
    this.timer = setInterval(() => { this.writing = this.writing.then(() => this.write()); }, this.o.intervalMs);
    this.timer.unref();
  }

  /** Stops the timer and writes a last snapshot (what the node did since the previous one). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.writing;
    await this.write();
    this.lag.disable();
  }

  /** Takes this interval's figures and starts the next interval from zero. */
  private take(): Snapshot['tasks'] {
    const sorted = this.durations.sort((a, b) => a - b);
    const tasks = {
      claimed: this.claimedCount,
      finished: this.finishedCount,
      durationSeconds: { count: sorted.length, p50: percentile(sorted, 0.5), p95: percentile(sorted, 0.95), max: sorted.length ? sorted[sorted.length - 1]! : null },
      running: this.runningTasks(),
    };
    this.claimedCount = 0;
    this.finishedCount = {};
    this.durations = [];
    return tasks;
  }

  async snapshot(): Promise<Snapshot> {
    const tasks = this.take();
    const lagP99 = this.lag.count ? this.lag.percentile(99) / 1e6 : 0;
    this.lag.reset();
    const mem = process.memoryUsage();
    const base = {
      time: new Date().toISOString(), node: this.o.nodeName, version: this.o.version, intervalSeconds: this.o.intervalMs / 1000, tasks,
      process: {
        rssBytes: mem.rss, heapUsedBytes: mem.heapUsed, eventLoopLagP99Ms: round(lagP99),
        dbPool: { total: this.o.pool.totalCount, idle: this.o.pool.idleCount, waiting: this.o.pool.waitingCount },
      },
    };
    try {
      const view = await readClusterView(this.o.pool, this.o.nodeName, this.o.offlineThresholdMs);
      return {
        ...base, queue: view.queue,
        nodes: view.nodes.map((n) => ({ ...n, heartbeatAgeSeconds: n.heartbeatAgeSeconds === null ? null : round(n.heartbeatAgeSeconds) })),
        storage: view.folders,
      };
    } catch (err) {
      return { ...base, queue: null, nodes: null, storage: [], error: `the database did not answer: ${errorMessage(err)}` };
    }
  }

  /** Appends one snapshot to today's file; a folder that cannot be written is logged once, not fatal. */
  async write(): Promise<void> {
    const dir = this.o.sharedPaths()?.Telemetry;
    if (!dir) return;
    const s = await this.snapshot();
    const file = join(dir, telemetryFileName(this.o.nodeName, s.time.slice(0, 10)));
    try {
      // One write of one line with O_APPEND: a reader never sees half a line of a finished write.
      await appendFile(file, JSON.stringify(s) + '\n', { mode: 0o640 });
      if (this.failing) this.o.log.info({ file }, 'telemetry is written again');
      this.failing = false;
    } catch (err) {
      if (!this.failing) this.o.log.warn({ file, err: errorMessage(err) }, 'could not write telemetry; the node carries on');
      this.failing = true;
    }
  }
}

/** Snapshots from every node's files in `dir` taken at or after `since`, oldest first. */
export async function readTelemetry(dir: string, since: Date): Promise<Snapshot[]> {
  const firstDay = since.toISOString().slice(0, 10);
  const out: Snapshot[] = [];
  for (const name of (await readdir(dir)).sort()) {
    const m = FILE.exec(name);
    if (!m || m[2]! < firstDay) continue;
    const text = await readFile(join(dir, name), 'utf8');
    for (const line of text.split('\n')) {
      if (!line) continue;
      try {
        const s = JSON.parse(line) as Snapshot;
        if (typeof s.time === 'string' && Date.parse(s.time) >= since.getTime()) out.push(s);
      } catch {
        // A line cut short (a disk that filled up) is skipped, not fatal.
      }
    }
  }
  return out.sort((a, b) => Date.parse(a.time) - Date.parse(b.time));
}

/** Telemetry files of days older than `days`. */
export async function oldTelemetryFiles(dir: string, days: number, now = new Date()): Promise<string[]> {
  const oldest = new Date(now.getTime() - days * 86_400_000).toISOString().slice(0, 10);
  return (await readdir(dir).catch(() => [] as string[])).filter((name) => {
    const m = FILE.exec(name);
    return m !== null && m[2]! < oldest;
  });
}

export function telemetryRetentionJob(o: RuntimeOptions): ClusterJob {
  return {
    name: 'telemetry-retention',
    intervalMs: o.retentionJobMs,
    run: async (c) => {
      const days = await numberSetting(c, TELEMETRY_RETENTION_SETTING, DEFAULT_TELEMETRY_RETENTION_DAYS);
      if (days < 1) return `no telemetry retention (${TELEMETRY_RETENTION_SETTING} is 0)`;
      const dir = resolvePaths(await getSharedPaths(c))?.Telemetry;
      if (!dir) return 'no shared storage';
      const old = await oldTelemetryFiles(dir, days);
      if (old.length === 0) return 'no old telemetry files';
      return {
        result: `removed ${old.length} telemetry file(s) older than ${days} day(s)`,
        // Files go after the commit, as every job's slow I/O does.
        afterCommit: async () => { for (const name of old) await rm(join(dir, name), { force: true }); },
      };
    },
  };
}
