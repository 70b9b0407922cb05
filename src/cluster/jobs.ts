import type { PoolClient } from 'pg';
import type { Logger } from 'pino';
import { withTransaction, type Pool } from '../db/pool.js';
import { errorMessage } from '../errors.js';
import { ensureJobRow, lockDueJob, recordJobRun, setJobIdleLimit } from './queries.js';

export interface ClusterJob {
  readonly name: string;
  readonly intervalMs: number;
  /**
   * Runs inside the transaction that holds the job's row lock; returns a one-line result, and
   * optionally work to do after the commit (slow I/O that must not hold the locks).
   */
  run(c: PoolClient): Promise<string | { result: string; afterCommit: () => Promise<void> }>;
}

/** Jobs run more often than this have a lane of their own. */
const FREQUENT_MS = 5_000;

/** How long a job's transaction may wait on its node before PostgreSQL ends it. */
const JOB_IDLE_LIMIT_MS = 2_000;

/**
 * Runs cluster-wide jobs on exactly one node at a time. Each job has a row; a node runs the job
 * only while it holds that row's lock (taken with SKIP LOCKED, so nobody waits), and the next run
 * time lives in the row, so the schedule survives any node. A node that dies mid-job loses its
 * transaction, and with it the lock, at once.
 */
export class Scheduler {
  private timer: NodeJS.Timeout | undefined;
  /**
   * Two lanes, each running its jobs one after another: frequent jobs (orphan recovery) never wait
   * behind a slow hourly one (an event export, a retention batch), and at most two connections are used.
   */
  private readonly lanes: { readonly jobs: readonly ClusterJob[]; busy: boolean }[];

  constructor(private readonly pool: Pool, private readonly nodeName: string, private readonly jobs: readonly ClusterJob[], private readonly log: Logger, private readonly enabled: () => boolean) {
    const frequent = (j: ClusterJob) => j.intervalMs < FREQUENT_MS;
    this.lanes = [{ jobs: jobs.filter(frequent), busy: false }, { jobs: jobs.filter((j) => !frequent(j)), busy: false }].filter((l) => l.jobs.length > 0);
  }

  start(): void {
    const tick = Math.min(...this.jobs.map((j) => j.intervalMs), 5_000);
    this.timer = setInterval(() => void this.tick(), tick);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  async tick(): Promise<void> {
    await Promise.all(this.lanes.map(async (lane) => {
      if (lane.busy || !this.enabled()) return;
      lane.busy = true;
      try {
        for (const job of lane.jobs) await this.runOne(job);
      } finally {
        lane.busy = false;
      }
    }));
  }

  async runOne(job: ClusterJob): Promise<void> {
    try {
      const after = await withTransaction(this.pool, async (c) => {
        // A node frozen or cut off mid-job (its connection stays open, silent) must not hold the
        // job's row lock for good: PostgreSQL ends a transaction left idle this long, and the job
        // runs elsewhere (recovery of that very node's tasks among them).
        await setJobIdleLimit(c, JOB_IDLE_LIMIT_MS);
        await ensureJobRow(c, job.name);
        if (!(await lockDueJob(c, job.name))) return undefined;
        const out = await job.run(c);
        const result = typeof out === 'string' ? out : out.result;
        await recordJobRun(c, job.name, job.intervalMs, this.nodeName, result);
        if (result && !/^no /.test(result)) this.log.info({ job: job.name, result }, 'cluster job ran');
        return typeof out === 'string' ? undefined : out.afterCommit;
      }, 1);
      await after?.();
    } catch (err) {
      this.log.warn({ job: job.name, err: errorMessage(err) }, 'cluster job failed; another node or the next tick will retry');
    }
  }
}
