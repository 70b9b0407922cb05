import { EventEmitter } from 'node:events';
import type pg from 'pg';
import type { Logger } from 'pino';
import { EnvironmentError, errorMessage } from '../errors.js';
import { openClient } from '../db/pool.js';
import { nodeId } from './nodes.js';
import { heartbeat, markNodeStopped, releaseNodeLock, selectNodeLock, startNodeEpoch, tryNodeLock } from './queries.js';

export interface LivenessOptions {
  readonly databaseUrl: string;
  readonly nodeName: string;
  readonly heartbeatMs: number;
  readonly offlineThresholdMs: number;
  readonly log: Logger;
}

/**
 * The node's proof of life, on its own connection and timer so that nothing the node does
 * (a busy pool, a slow share) can delay it. While the connection lives PostgreSQL holds the
 * node's session advisory lock; when the process dies the lock goes with the connection.
 *
 * Events: 'lost' (cannot prove liveness: stop claiming, abandon running work), 'restored',
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
  private beating = false;
  private stopped = false;

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

  /** Marks the node started: a new epoch, its listen URL and storage nonce. */
  async register(version: string, listenUrl: string, storageNonce: string): Promise<number> {
    const c = this.requireClient();
    this.epoch = await startNodeEpoch(c, this.id, version, listenUrl, storageNonce);
    this.lastBeat = performance.now();
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
      if (this.lostSince === undefined && performance.now() - this.lastBeat > this.o.offlineThresholdMs) {
        this.lostSince = Date.now();
        this.losses++;
        this.o.log.error({ stalledMs: Math.round(performance.now() - this.lastBeat) }, 'no heartbeat for longer than the offline threshold; abandoning running work');
        this.emit('lost');
      }
      // A heartbeat that hangs (a silent partition; TCP may take minutes to notice) counts as lost.
      const limit = Math.max(500, this.o.offlineThresholdMs / 2);
      let timer: NodeJS.Timeout | undefined;
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
      if (this.lostSince !== undefined) {
        this.o.log.info({}, 'liveness restored');
        this.lostSince = undefined;
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
    if (this.lostSince === undefined) {
      this.lostSince = Date.now();
      this.losses++;
      this.o.log.warn({ err: errorMessage(err) }, 'liveness connection lost; not claiming work until it is back');
      this.emit('lost');
    }
  }

  private async reconnect(): Promise<void> {
    try {
      const client = await this.connect();
      if (!(await this.tryLock(client))) {
        await this.discard(client);
        throw new Error('advisory lock still held by the old connection');
      }
      this.client = client;
    } catch (err) {
      this.connectionLost(err);
    }
  }

  /** Clean shutdown: marked offline at once, lock released. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
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
