import { chown, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Pool } from '../db/pool.js';
import { errorMessage } from '../errors.js';
import type { Liveness } from '../cluster/liveness.js';
import type { Notifications } from '../cluster/notifications.js';
import type { StorageMonitor } from '../storage/monitor.js';
import { collectArtifact } from './artifacts.js';
import type { TaskContext, TaskRegistry } from './handler.js';
import { Masker, TaskLogWriter } from './log.js';
import { FencedError, OwnedTask } from './owned.js';
import { CANCEL_CHANNEL, TASKS_CHANNEL, cancellingAmong, claimTasks, finishTask, finishTasks, handBack, notifyLogs, readNodeSettings, stillOwned, type Finish } from './queries.js';
import { runScript, stoppedOutcome } from './runner.js';
import type { BuiltinWorker } from './builtinWorker.js';
import { removeWorkFolder, scriptFolderName } from './workFolder.js';
import { safeToRerun } from './recovery.js';
import { outcomeState, type Outcome, type StopReason, type TaskObserver, type TaskRow } from './types.js';

export interface EngineOptions {
  readonly pool: Pool;
  readonly home: string;
  readonly nodeId: string;
  readonly nodeName: string;
  readonly liveness: Liveness;
  readonly notifications: Notifications;
  readonly storage: StorageMonitor;
  readonly log: Logger;
  readonly registry: TaskRegistry;
  /** Fallback poll for notifications lost during a reconnect. */
  readonly pollMs: number;
  readonly shutdownGraceMs: number;
  /** Where scripts run (outside the home), as which OS user, and how they are contained. */
  readonly worker: BuiltinWorker;
  /** How long a script outlives its node's last renewal of its watchdog (half the offline threshold). */
  readonly deadManMs: number;
  /** Told of each claim and each recorded result (metrics, telemetry). */
  readonly observer?: TaskObserver;
}

interface Running {
  readonly task: TaskRow;
  readonly token: string;
  /**
   * The run's one controller: cancel, timeout, loss of ownership and a failed log all abort it, and
   * its signal reaches the handler and every script it starts. Its reason is a StopReason.
   */
  readonly controller: AbortController;
  /** No longer provably this node's: nothing may be recorded for it (recovery settles it). */
  abandoned: boolean;
  readonly finished: Promise<void>;
  /** When this node began the run (its own clock, for durations it reports). */
  readonly began?: number;
}

/**
 * The node's side of the task queue: claims tasks up to its cap (woken by NOTIFY, not by a poll),
 * runs them, honours cancels from any node, and records results fenced by the claim token.
 */
export class TaskEngine {
  private readonly running = new Map<string, Running>();

  /** Tasks running on this node now. */
  get runningCount(): number { return this.running.size; }
  private cap = 0;
  private drain = true;
  private claiming = false;
  private again = false;
  private stopping = false;
  private pollTimer: NodeJS.Timeout | undefined;
  private readonly logNotifyPending = new Set<string>();
  private logNotifyTimer: NodeJS.Timeout | undefined;

  private readonly finisher: Finisher;

  constructor(private readonly o: EngineOptions) {
    // Results committed free capacity in the database's count too: claim again.
    this.finisher = new Finisher(o.pool, () => this.wake(), o.log);
  }

  async start(): Promise<void> {
    await this.refreshSettings();
    this.o.notifications.on('notify', (channel: string, payload: string) => {
      if (channel === TASKS_CHANNEL) this.wake(true);
      else if (channel === CANCEL_CHANNEL) this.cancelLocal(payload);
      else if (channel === 'cuttle_nodes' && (payload === this.o.nodeId || payload === '')) void this.refreshSettings().then(() => this.wake());
    });
    this.o.notifications.on('reconnected', () => void this.tick());
    this.o.liveness.on('lost', () => this.abortAll('this node lost its database connection and can no longer prove it owns its tasks'));
    // Back after a database restart (tasks kept running) or a loss (tasks abandoned): settle what
    // was abandoned, stop any running task that was recovered elsewhere meanwhile, claim again.
    this.o.liveness.on('restored', () => void this.settleAbandoned().then(() => this.tick()));
    this.pollTimer = setInterval(() => void this.tick(), this.o.pollMs);
    this.pollTimer.unref();
    this.wake();
  }

  private async refreshSettings(): Promise<void> {
    try {
      const row = await readNodeSettings(this.o.pool, this.o.nodeId);
      if (row) { this.cap = row.cap; this.drain = row.drain; }
    } catch (err) {
      this.o.log.warn({ err: errorMessage(err) }, 'could not read this node\'s task cap');
    }
  }

  /** The slow path: settings, cancels missed while disconnected, and a claim attempt. */
  private async tick(): Promise<void> {
    await this.refreshSettings();
    try {
      for (const id of await cancellingAmong(this.o.pool, [...this.running.keys()])) this.cancelLocal(id);
      // A running task whose claim token changed was recovered elsewhere (this node looked dead
      // for a while): stop it here at once rather than let it run beside its re-run.
      const runs = [...this.running.values()];
      const owned = await stillOwned(this.o.pool, runs.map((r) => r.task.id), runs.map((r) => r.token));
      for (const run of runs) {
        if (!owned.has(run.task.id) && this.running.get(run.task.id) === run && !run.abandoned) {
          this.o.log.error({ task: run.task.id }, 'this task was recovered by another node; stopping it here');
          this.abandon(run, 'the task was recovered by another node');
        }
      }
    } catch { /* next tick */ }
    this.wake();
  }

  private canClaim(): boolean {
    return !this.stopping && !this.drain && this.running.size < this.cap && this.o.liveness.healthy
      && this.o.storage.usable && this.o.storage.paths !== undefined;
  }

  /**
   * Starts claiming unless a claim loop already runs (then it loops once more). `spread` is set
   * for wake-ups every node receives (a new task): a busier node then answers a little later,
   * so work fans out across the cluster. A node woken by its own finished task claims at once.
   */
  wake(spread = false): void {
    if (this.claiming) { this.again = true; return; }
    this.claiming = true;
    // Never rejects: a failure here is logged and the next wake-up (or the poll) tries again.
    this.claimed = this.claimLoop(spread).catch((err: unknown) => {
      this.o.log.error({ err: errorMessage(err) }, 'the claim loop failed; claiming again at the next wake-up');
    }).finally(() => {
      this.claiming = false;
      if (this.again) { this.again = false; this.wake(); }
    });
  }

  private claimed: Promise<void> = Promise.resolve();

  private async claimLoop(spread: boolean): Promise<void> {
    if (spread && this.running.size > 0) await new Promise((r) => setTimeout(r, Math.min(2 * this.running.size, 20)));
    let batch = true;
    while (this.canClaim()) {
      let tasks: TaskRow[];
      const losses = this.o.liveness.losses;
      try {
        tasks = await claimTasks(this.o.pool, this.o.nodeId, this.o.liveness.epoch, batch ? this.cap - this.running.size : 1, this.running.size);
      } catch (err) {
        // Lost a race with another node for a concurrency tag: go on one task at a time.
        if ((err as { code?: string }).code === '23505') { batch = false; continue; }
        this.o.log.warn({ err: errorMessage(err) }, 'claiming a task failed');
        return;
      }
      if (tasks.length === 0) return;
      if (this.o.liveness.losses !== losses || !this.o.liveness.healthy || this.stopping) {
        // Liveness was lost (or shutdown began) while the claim was in flight: other nodes may
        // already be recovering these tasks, so none of them starts here; they are settled like
        // abandoned ones once liveness is back (or by recovery elsewhere).
        for (const t of tasks) this.abandoned.set(t.id, { task: t, token: t.claimToken!, controller: new AbortController(), abandoned: true, finished: Promise.resolve() });
        if (this.o.liveness.healthy) await this.settleAbandoned();
        return;
      }
      for (const t of tasks) this.begin(t);
    }
  }

  private begin(task: TaskRow): void {
    let resolveFinished!: () => void;
    const finished = new Promise<void>((r) => { resolveFinished = r; });
    const run: Running = { task, token: task.claimToken!, controller: new AbortController(), abandoned: false, finished, began: Date.now() };
    this.running.set(task.id, run);
    this.o.observer?.claimed(task);
    void this.execute(run).catch((err) => {
      this.o.log.error({ task: task.id, err: errorMessage(err) }, 'task execution failed unexpectedly');
    }).finally(() => {
      resolveFinished();
      this.release(task.id);
    });
  }

  /** The task's work is over: its slot is free (even while its result is still being recorded). */
  private release(id: string): void {
    if (this.running.delete(id)) this.wake();
  }

  private async execute(run: Running): Promise<void> {
    const { task, controller } = run;
    const paths = this.o.storage.paths!;
    const handler = this.o.registry.get(task.name);
    const masker = new Masker();
    let writer: TaskLogWriter;
    try {
      writer = await TaskLogWriter.open({
        taskLogs: paths.TaskLogs, taskId: task.id, attempt: task.attempt, masker,
        onWritten: () => this.logWritten(task.id),
        onFailure: (err) => this.stopRun(run, { kind: 'failure', message: err.message }),
      });
    } catch (err) {
      await this.record(run, { kind: 'failed', message: `Could not write the task log in ${paths.TaskLogs}: ${errorMessage(err)}` });
      return;
    }
    const log = writer.root;
    const quiet = handler?.quiet === true;
    if (!quiet) void log.info(`Task ${task.id} (${task.description}) started on node ${this.o.nodeName}, attempt ${task.attempt}`);
    const timer = task.timeoutSeconds ? setTimeout(() => this.stopRun(run, { kind: 'timeout', seconds: task.timeoutSeconds! }), task.timeoutSeconds * 1000) : undefined;
    timer?.unref();
    let outcome: Outcome;
    const folders: string[] = [];
    try {
      outcome = handler
        ? await handler.run(this.context(run, writer, masker, folders))
        : { kind: 'failed', message: `Node ${this.o.nodeName} does not know how to run tasks of type ${task.name}; run it on a node whose version has that task type.` };
    } catch (err) {
      // A fenced-out write means another node owns the task now: record nothing, stop everything.
      if (err instanceof FencedError) this.abandon(run, err.message);
      outcome = { kind: 'failed', message: errorMessage(err) };
    }
    if (timer) clearTimeout(timer);
    for (const f of folders) await removeWorkFolder(f, this.o.worker.user);
    // However the handler ended, a stop request decides the state (a canceled script also exits non-zero).
    if (controller.signal.aborted) outcome = stoppedOutcome(controller.signal.reason as StopReason);
    const { state, error } = outcomeState(outcome);
    if (!run.abandoned && (!quiet || state !== 'Success')) {
      await log.write(state === 'Success' ? 'Info' : state === 'Canceled' ? 'Warning' : 'Fatal', error ?? `The task finished: ${state}`);
    }
    await writer.close();
    // A log that failed while closing fails the task too.
    if (controller.signal.aborted) outcome = stoppedOutcome(controller.signal.reason as StopReason);
    // Claiming the next task need not wait for this one's result to be written.
    this.release(task.id);
    await this.record(run, outcome, writer.hasWarnings, writer.inlined);
  }

  /** What the handler gets: the task, its log, the run's signal, fenced writes and the script runner. */
  private context(run: Running, writer: TaskLogWriter, masker: Masker, folders: string[]): TaskContext {
    const { task } = run;
    const paths = this.o.storage.paths!;
    const owned = new OwnedTask(this.o.pool, task.id, run.token);
    const { workRoot, user, containment } = this.o.worker;
    let scripts = 0;
    return {
      task, args: task.arguments, nodeName: this.o.nodeName, log: writer.root, signal: run.controller.signal, owned, sensitive: masker,
      taskFolder: async (name) => {
        const path = join(workRoot, scriptFolderName(task.id, task.attempt, name));
        await mkdir(path, { mode: 0o700 });
        folders.push(path);
        if (user && user.uid !== process.getuid?.()) {
          await chown(path, user.uid, user.gid);
          return { path, owner: { uid: user.uid, gid: user.gid } };
        }
        return { path };
      },
      runScript: (o) => {
        // Outside the node's home, with a name no other script can guess (see workFolder.ts).
        const cwd = join(workRoot, scriptFolderName(task.id, task.attempt, o.folder ?? `script-${++scripts}`));
        return runScript({
          ...o,
          cwd,
          // The node's choice, never a handler's: scripts run as the built-in worker's user, contained.
          user,
          containment,
          // A frozen node renews nothing: its scripts die by their own watchdog within half the
          // offline threshold, before any other node may take the task over.
          deadManMs: this.o.deadManMs,
          signal: o.signal ?? run.controller.signal,
          nodeName: this.o.nodeName,
          env: { OctopusTaskId: task.id, CUTTLE_TASK_ID: task.id, CUTTLE_SERVER_NODE: this.o.nodeName, ...o.env },
          services: {
            createArtifact: async (path, name) => {
              try {
                await collectArtifact(owned, paths.Artifacts, task.spaceId, cwd, path, name, user?.uid);
              } catch (err) {
                // Another node owns the task now: stop this run at once and record nothing.
                if (err instanceof FencedError) this.abandon(run, err.message);
                throw err;
              }
            },
          },
        });
      },
    };
  }

  private async record(run: Running, outcome: Outcome, hasWarnings = false, inlineLog?: string): Promise<void> {
    if (run.abandoned) return; // not ours any more: recovery (on any node) settles it
    const { state, error } = outcomeState(outcome);
    try {
      const ok = await this.finisher.record({ id: run.task.id, token: run.token, state, error, hasWarnings, inlineLog: inlineLog ?? null });
      // A log kept in the row exists once the result is committed: wake its live readers then.
      if (ok && inlineLog !== undefined) this.logWritten(run.task.id);
      if (ok) this.o.observer?.finished(run.task, state, Date.now() - (run.began ?? Date.now()));
      if (!ok) this.o.log.warn({ task: run.task.id }, 'the task is no longer this node\'s (it was recovered elsewhere); its result was dropped');
    } catch (err) {
      this.o.log.error({ task: run.task.id, err: errorMessage(err) }, 'could not record the task result; recovery will settle it');
    }
  }

  /** The one way a run is told to stop; the first reason wins (later ones find the signal aborted). */
  private stopRun(run: Running, reason: StopReason): void {
    if (!run.controller.signal.aborted) run.controller.abort(reason);
  }

  /**
   * The node can no longer prove it owns the run: stop it and record nothing. A run already
   * stopping for another reason (a cancel) is killed by its runner's grace timer within seconds.
   */
  private abandon(run: Running, why: string): void {
    run.abandoned = true;
    this.stopRun(run, { kind: 'abort', why });
  }

  private cancelLocal(id: string): void {
    const run = this.running.get(id);
    if (!run || run.controller.signal.aborted) return;
    this.stopRun(run, { kind: 'cancel' });
  }

  /** Kills every running task without recording anything: ownership can no longer be proven. */
  private abortAll(reason: string): void {
    if (this.running.size === 0) return;
    this.o.log.error({ reason, tasks: [...this.running.keys()] }, 'abandoning running tasks');
    for (const run of this.running.values()) {
      this.abandon(run, reason);
      this.abandoned.set(run.task.id, run);
    }
  }

  private readonly abandoned = new Map<string, Running>();

  /**
   * Settles a task this node stopped without finishing: back to the queue when safe to re-run,
   * else Failed with `message` (fenced either way). A task being cancelled cannot be handed back;
   * finishing it turns Cancelling into Canceled.
   */
  private async giveUp(run: Running, message: string, hasWarnings: boolean): Promise<void> {
    const handedBack = safeToRerun(run.task) && await handBack(this.o.pool, run.task.id, run.token);
    if (!handedBack) await finishTask(this.o.pool, run.task.id, run.token, 'Failed', message, hasWarnings);
  }

  /**
   * Liveness came back before anyone declared this node dead, so the tasks it abandoned are still
   * recorded as its own: settle them as recovery would (fenced; a no-op for any already recovered).
   */
  private async settleAbandoned(): Promise<void> {
    for (const [id, run] of this.abandoned) {
      try {
        await this.giveUp(run, `Node ${this.o.nodeName} lost its database connection while running the task and stopped it; it is not marked safe to re-run, so it was not started again.`, true);
        this.abandoned.delete(id);
      } catch (err) {
        this.o.log.warn({ task: id, err: errorMessage(err) }, 'could not settle an abandoned task yet');
      }
    }
  }

  // Live tail: readers on other nodes wake on this. At most one notification per 200 ms, naming
  // every task that wrote since (comma-separated, within NOTIFY's 8000-byte payload limit).
  private logWritten(taskId: string): void {
    this.logNotifyPending.add(taskId);
    if (this.logNotifyTimer) return;
    this.logNotifyTimer = setTimeout(() => {
      this.logNotifyTimer = undefined;
      const chunks: string[] = [];
      let current = '';
      for (const id of this.logNotifyPending) {
        if (current.length + id.length + 1 > 7900) { chunks.push(current); current = ''; }
        current = current ? `${current},${id}` : id;
      }
      if (current) chunks.push(current);
      this.logNotifyPending.clear();
      for (const payload of chunks) notifyLogs(this.o.pool, payload).catch(() => undefined);
    }, 200);
    this.logNotifyTimer.unref();
  }

  /**
   * Clean shutdown: claim nothing more, give running tasks the grace period, then stop them and
   * hand back what is safe to re-run (the rest ends Failed, naming this node).
   */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.pollTimer) clearInterval(this.pollTimer);
    // A claim in flight finishes first (what it claimed is handed back below), so no task starts
    // on a stopping node and none is left claimed by it.
    while (this.claiming) await this.claimed;
    await this.settleAbandoned();
    await this.stopRunning();
    // Results waiting to be written are written before the pool closes.
    await Promise.race([this.finisher.idle(), new Promise((r) => setTimeout(r, 5_000).unref())]);
    this.finisher.stop();
  }

  private async stopRunning(): Promise<void> {
    if (this.running.size === 0) return;
    const all = Promise.all([...this.running.values()].map((r) => r.finished));
    const timer = new Promise((r) => setTimeout(r, this.o.shutdownGraceMs).unref());
    await Promise.race([all, timer]);
    for (const run of this.running.values()) {
      this.abandon(run, 'the node is shutting down');
      try {
        await this.giveUp(run, `Node ${this.o.nodeName} was shut down while the task was running.`, false);
      } catch (err) {
        this.o.log.warn({ task: run.task.id, err: errorMessage(err) }, 'could not hand the task back; recovery will settle it');
      }
    }
    await Promise.race([all, new Promise((r) => setTimeout(r, 5_000).unref())]);
  }
}

/**
 * Group commit for results: while one write is in flight, results that arrive meanwhile wait and
 * go together in the next statement, so a busy node pays one commit for many finished tasks.
 */
class Finisher {
  private waiting: { item: Finish; resolve: (ok: boolean) => void; reject: (err: unknown) => void }[] = [];
  private busy = false;
  private stopped = false;

  constructor(private readonly pool: Pool, private readonly committed: () => void, private readonly log: Logger) {}

  record(item: Finish): Promise<boolean> {
    const p = new Promise<boolean>((resolve, reject) => this.waiting.push({ item, resolve, reject }));
    if (!this.busy) void this.drain();
    return p;
  }

  /** After this, a result that still cannot be written is given up: the node is offline, so recovery settles it. */
  stop(): void {
    this.stopped = true;
  }

  private async drain(): Promise<void> {
    this.busy = true;
    let delay = 100;
    while (this.waiting.length) {
      const batch = this.waiting;
      this.waiting = [];
      try {
        const done = await finishTasks(this.pool, batch.map((b) => b.item));
        for (const b of batch) b.resolve(done.has(b.item.id));
        delay = 100;
        this.committed();
      } catch (err) {
        // This node is alive, so nobody else will settle these tasks: keep trying until the write
        // lands or is fenced out (a result written twice is harmless: the second matches no row).
        if (this.stopped) { for (const b of batch) b.reject(err); continue; }
        this.log.warn({ tasks: batch.map((b) => b.item.id), err: errorMessage(err) }, 'could not record task results; retrying');
        this.waiting = [...batch, ...this.waiting];
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 5_000);
      }
    }
    this.busy = false;
  }

  /** Resolves once nothing is waiting to be written. */
  async idle(): Promise<void> {
    while (this.busy || this.waiting.length) await new Promise((r) => setTimeout(r, 20));
  }
}
