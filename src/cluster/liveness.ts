import { EventEmitter } from 'node:events';
import pg from 'pg';
import type { Logger } from 'pino';
import { EnvironmentError, errorMessage } from '../errors.js';
import { openClient } from '../db/pool.js';
import { nodeId } from './nodes.js';
import { heartbeat, markNodeStopped, postmasterRestartedSince, releaseNodeLock, selectNodeLock, startNodeEpoch, tryNodeLock } from './queries.js';

export interface LivenessOptions {
  readonly databaseUrl: string;
  readonly nodeName: string;
  readonly heartbeatMs: number;
  readonly offlineThresholdMs: number;
  readonly log: Logger;
}

/**
 * What a failed connection attempt says about the server: going down, starting up, or not
 * listening at all. Seen right after the node's own connection died, it means the database is
 * restarting (every node lost its lock at once), not that this node alone was cut off.
 */
export function serverDown(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  // 57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now (starting or stopping);
  // ECONNREFUSED / ENOENT: nothing listens on the port or the socket.
  return code === '57P01' || code === '57P02' || code === '57P03' || code === 'ECONNREFUSED' || code === 'ENOENT';
}

/** How the probe after a lost connection judged it. */
type Verdict = 'restarting' | 'restarted' | 'cut';

/**
 * The node's proof of life, on its own connection and timer so that nothing the node does
 * (a busy pool, a slow share) can delay it. While the connection lives PostgreSQL holds the
 * node's session advisory lock; when the process dies the lock goes with the connection.
 *
 * When the connection dies, one quick probe tells a database restart from this node being cut
 * off. A restart (the server refuses connections, is starting or stopping, or came back with a
 * start time after this node's last heartbeat) is not a node failure: the node stops claiming but
 * keeps its scripts running for the outage grace, reconnects, takes its lock again and carries on
 * with the same claim tokens — recovery elsewhere counts only heartbeat age for a lock lost to a
 * restart (LOCK_ORPHANS_SQL), and the grace ends before that age reaches the offline threshold.
 * Anything else (the server is up but this connection died, a probe that hangs, a heartbeat that
 * hangs) means other nodes may take the tasks over at once: the node abandons them at once.
 *
 * Events: 'suspended' (stop claiming; running work goes on), 'lost' (cannot prove liveness:
 * abandon running work), 'restored' (liveness proven again: check ownership, claim again),
 * 'fenced' (another start of this node took over: stop at once).
 */
export class Liveness extends EventEmitter {
  readonly id: string;
  epoch = 0;
  private client: pg.Client | undefined;
  private lockKey = 0;
  private timer: NodeJS.Timeout | undefined;
  private lostSince: number | undefined;
  /** How many times liveness was lost; a claim that spans a loss must not start its tasks. */
  losses = 0;
  private lastBeat = performance.now();
  /** When the last heartbeat that succeeded was sent: the database's last_seen is no earlier. */
  private lastBeatSent = performance.now();
  private beating = false;
  private stopped = false;
  /** 'lost' was emitted for the current loss (running work abandoned). */
  private abandonedWork = false;
  private retryTimer: NodeJS.Timeout | undefined;
  /** The current loss is a database restart: running work may go on until this deadline. */
  private outageDeadline: NodeJS.Timeout | undefined;

  constructor(private readonly o: LivenessOptions) {
    super();
    this.id = nodeId(o.nodeName);
  }

  get healthy(): boolean {
    return this.lostSince === undefined && !this.stopped;
  }

  /** Takes the node's advisory lock; refuses when another live process is this node. */
  async acquire(): Promise<void> {
    const client = await this.connect();
    const r = await selectNodeLock(client, this.id);
    if (!r) {
      await this.discard(client);
      throw new EnvironmentError(`The node "${this.o.nodeName}" is not registered in this cluster; run \`cuttle join\` for this home first.`);
    }
    this.lockKey = r.lock_key;
    if (!(await this.tryLock(client))) {
      await this.discard(client);
      throw new EnvironmentError(`Another live process is already node "${this.o.nodeName}" (${r.listen_url || 'no listen URL'}); each node needs its own name and home, so stop that process or use another --node-name.`);
    }
    this.client = client;
  }

  /** Closes a connection this node is not going to use, without reporting it as a lost one. */
  private async discard(client: pg.Client): Promise<void> {
    client.removeAllListeners('end');
    client.removeAllListeners('error');
    client.on('error', () => undefined);
    await client.end().catch(() => undefined);
  }

  private async connect(): Promise<pg.Client> {
    const client = await openClient(this.o.databaseUrl, `cuttle liveness ${this.o.nodeName}`);
    client.on('error', (err) => this.connectionLost(err));
    client.on('end', () => this.connectionLost(new Error('connection closed')));
    return client;
  }

  private async tryLock(client: pg.Client): Promise<boolean> {
    return tryNodeLock(client, this.lockKey);
  }

  /**
   * How long running work may outlast the database in a restart, from the last heartbeat sent:
   * well inside the offline threshold, after which other nodes may take the tasks over.
   */
  get outageGraceMs(): number {
    return Math.max(this.o.offlineThresholdMs / 2, this.o.offlineThresholdMs - this.o.heartbeatMs);
  }

  /** Marks the node started: a new epoch, its listen URL and storage nonce. */
  async register(version: string, listenUrl: string, storageNonce: string): Promise<number> {
    const c = this.requireClient();
    this.epoch = await startNodeEpoch(c, this.id, version, listenUrl, storageNonce);
    this.lastBeat = performance.now();
    this.lastBeatSent = this.lastBeat;
    this.timer = setInterval(() => void this.beat(), this.o.heartbeatMs);
    this.timer.unref();
    return this.epoch;
  }

  private requireClient(): pg.Client {
    if (!this.client) throw new EnvironmentError('The liveness connection is not open.');
    return this.client;
  }

  private async beat(): Promise<void> {
    if (this.beating || this.stopped) return;
    this.beating = true;
    try {
      if (!this.client) await this.reconnect();
      if (!this.client) return;
      // The event loop stalled (a hung share, a long pause) past the threshold: others may have
      // declared this node dead meanwhile, so behave as if liveness was lost before going on.
      if (!this.abandonedWork && performance.now() - this.lastBeat > this.o.offlineThresholdMs) {
        if (this.lostSince === undefined) { this.lostSince = Date.now(); this.losses++; }
        this.o.log.error({ stalledMs: Math.round(performance.now() - this.lastBeat) }, 'no heartbeat for longer than the offline threshold; abandoning running work');
        this.abandonWork();
      }
      // A heartbeat that hangs (a silent partition; TCP may take minutes to notice) counts as lost.
      const limit = Math.max(500, this.o.offlineThresholdMs / 2);
      let timer: NodeJS.Timeout | undefined;
      const sent = performance.now();
      const updated = await Promise.race([
        heartbeat(this.client, this.id, this.epoch),
        new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`heartbeat took longer than ${limit} ms`)), limit); }),
      ]).finally(() => clearTimeout(timer));
      if (updated === 0) {
        this.o.log.error({ epoch: this.epoch }, 'this node was superseded by another start of the same node; stopping');
        this.emit('fenced');
        return;
      }
      this.lastBeat = performance.now();
      this.lastBeatSent = sent;
      if (this.lostSince !== undefined) {
        this.o.log.info({ abandoned: this.abandonedWork }, 'liveness restored');
        this.lostSince = undefined;
        this.abandonedWork = false;
        clearTimeout(this.outageDeadline);
        this.outageDeadline = undefined;
        this.emit('restored');
      }
    } catch (err) {
      this.connectionLost(err);
    } finally {
      this.beating = false;
    }
  }

  private connectionLost(err: unknown): void {
    if (this.stopped) return;
    const old = this.client;
    this.client = undefined;
    old?.removeAllListeners('end');
    void old?.end().catch(() => undefined);
    if (this.lostSince !== undefined) return;
    this.lostSince = Date.now();
    this.losses++;
    this.o.log.warn({ err: errorMessage(err) }, 'liveness connection lost; not claiming work until it is back');
    // Try again every 200 ms rather than every heartbeat: running work waits on it.
    clearInterval(this.retryTimer);
    this.retryTimer = setInterval(() => { if (this.lostSince === undefined || this.stopped) clearInterval(this.retryTimer); else void this.beat(); }, Math.min(200, this.o.heartbeatMs));
    this.retryTimer.unref();
    this.emit('suspended');
    void this.judge();
  }

  /** Running work is no longer provably this node's: other nodes may take it over now. */
  private abandonWork(): void {
    clearTimeout(this.outageDeadline);
    this.outageDeadline = undefined;
    if (this.abandonedWork || this.stopped) return;
    this.abandonedWork = true;
    this.emit('lost');
  }

  /** Decides, from one quick probe, whether running work may outlast this loss. */
  private async judge(): Promise<void> {
    // Always a probe: the error on the dead connection cannot tell (pg_terminate_backend and a
    // server shutdown both end it with 57P01), a new connection attempt can.
    const loss = this.losses;
    const verdict = await this.probe();
    // The loss this probe was about is over (or another began): its verdict no longer applies.
    if (this.stopped || this.lostSince === undefined || this.losses !== loss) return;
    if (verdict === 'cut') {
      this.o.log.error({}, 'the database is up but this node\'s liveness connection is gone: other nodes may take its tasks over, so they are stopped here');
      this.abandonWork();
      return;
    }
    const left = this.outageGraceMs - (performance.now() - this.lastBeatSent);
    this.o.log.warn({ graceMs: Math.max(0, Math.round(left)), verdict }, 'the database is restarting: running tasks go on while the node reconnects');
    if (left <= 0) { this.abandonWork(); return; }
    clearTimeout(this.outageDeadline);
    this.outageDeadline = setTimeout(() => {
      this.o.log.error({}, 'the database did not come back within the outage grace; stopping running tasks before other nodes may take them over');
      this.abandonWork();
    }, left);
    this.outageDeadline.unref();
    // Back already (a quick restart): take the lock again now rather than at the next beat.
    if (verdict === 'restarted') void this.beat();
  }

  /**
   * One connection attempt, bounded well inside the time other nodes need to take this node's
   * tasks over. 'restarting': the server refuses or is starting/stopping; 'restarted': it answers
   * and started after this node's last heartbeat (every lock vanished with it); 'cut': it answers
   * and did not restart (only this node's connection died), or the attempt hung or failed otherwise.
   */
  private async probe(): Promise<Verdict> {
    // A server on its way down may accept a connection and drop it without a reason (ECONNRESET,
    // "terminated unexpectedly"): that says nothing either way, so ask once or twice more, within
    // a bounded time; a timeout or an answer decides at once.
    const started = performance.now();
    for (let attempt = 1; ; attempt++) {
      const r = await this.probeOnce();
      if (r !== 'dropped') return r;
      if (attempt >= 3 || performance.now() - started > 600) return 'cut';
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  private async probeOnce(): Promise<Verdict | 'dropped'> {
    // Short: while it runs, a node that is really cut off still has its scripts, and recovery
    // elsewhere may already count its lock as gone.
    const limit = Math.max(100, Math.min(250, this.o.heartbeatMs / 4));
    const client = new pg.Client({ connectionString: this.o.databaseUrl, application_name: `cuttle probe ${this.o.nodeName}`, connectionTimeoutMillis: limit, query_timeout: limit });
    client.on('error', () => undefined);
    let timer: NodeJS.Timeout | undefined;
    try {
      const work = (async () => {
        await client.connect();
        return await postmasterRestartedSince(client, this.id) ? 'restarted' as const : 'cut' as const;
      })();
      return await Promise.race([work, new Promise<Verdict>((resolve) => { timer = setTimeout(() => resolve('cut'), limit); })]);
    } catch (err) {
      return serverDown(err) || serverDownMessage(err) ? 'restarting' : connectionDropped(err) ? 'dropped' : 'cut';
    } finally {
      clearTimeout(timer);
      void client.end().catch(() => undefined);
    }
  }

  private async reconnect(): Promise<void> {
    try {
      const client = await this.connect();
      // Work kept running through what looked like a restart: the server now says whether it
      // was one. If it did not restart (a pooler or a proxy in between went away, or a failover
      // to a server that started earlier), this node's lock vanished while the server stayed up,
      // so other nodes may be taking its tasks over: stop them now.
      if (this.outageDeadline && !this.abandonedWork && !(await postmasterRestartedSince(client, this.id))) {
        this.o.log.error({}, 'the database did not restart after all: stopping running tasks, other nodes may take them over');
        this.abandonWork();
      }
      if (!(await this.tryLock(client))) {
        await this.discard(client);
        throw new Error('advisory lock still held by the old connection');
      }
      this.client = client;
    } catch (err) {
      this.connectionLost(err);
      // Still restarting: the outage deadline decides. Anything else while work goes on: abandon it.
      if (this.outageDeadline && !serverDown(err) && !serverDownMessage(err)) {
        // A server on its way down may accept a connection and drop it before saying why
        // (ECONNRESET): ask again with a fresh probe before giving up on the running work.
        const verdict = connectionDropped(err) ? await this.probe() : 'cut';
        if (verdict === 'cut' && this.outageDeadline) {
          this.o.log.error({ err: errorMessage(err) }, 'reconnecting failed for another reason than a restart; stopping running tasks');
          this.abandonWork();
        }
      }
    }
  }

  /** Clean shutdown: marked offline at once, lock released. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    clearTimeout(this.outageDeadline);
    clearInterval(this.retryTimer);
    const c = this.client;
    this.stopped = true;
    if (!c) return;
    c.removeAllListeners('end');
    try {
      await markNodeStopped(c, this.id, this.epoch);
      await releaseNodeLock(c, this.lockKey);
    } catch (err) {
      this.o.log.warn({ err: errorMessage(err) }, 'could not mark the node offline; others will see its lock vanish');
    } finally {
      await c.end().catch(() => undefined);
    }
  }
}

/** The connection was accepted and then dropped without a reason: ambiguous, a probe decides. */
function connectionDropped(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === 'ECONNRESET' || code === 'EPIPE' || /ECONNRESET|EPIPE|Connection terminated unexpectedly/i.test(errorMessage(err));
}

/** openClient wraps connection errors in a sentence; these are the ones a restart produces. */
function serverDownMessage(err: unknown): boolean {
  return /connection refused|starting up|shutting down|terminating connection|the database system is/i.test(errorMessage(err));
}
