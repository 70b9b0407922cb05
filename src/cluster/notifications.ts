import { EventEmitter } from 'node:events';
import type pg from 'pg';
import type { Logger } from 'pino';
import { openClient } from '../db/pool.js';
import { errorMessage } from '../errors.js';
import { listen } from './queries.js';

/**
 * One LISTEN connection per node. Emits 'notify' (channel, payload) and, after a reconnect,
 * 'reconnected' — notifications sent while it was down are lost, so listeners re-check state then.
 */
export class Notifications extends EventEmitter {
  private client: pg.Client | undefined;
  private stopped = false;
  private retryMs = 100;

  constructor(private readonly url: string, private readonly channels: readonly string[], private readonly name: string, private readonly log: Logger) {
    super();
  }

  async start(): Promise<void> {
    await this.connect();
  }

  private async connect(): Promise<void> {
    const client = await openClient(this.url, `cuttle listen ${this.name}`);
    client.on('notification', (n) => this.emit('notify', n.channel, n.payload ?? ''));
    const lost = (err: unknown) => {
      if (this.client !== client) return;
      this.client = undefined;
      void client.end().catch(() => undefined);
      if (this.stopped) return;
      this.log.warn({ err: errorMessage(err) }, 'notification connection lost; reconnecting');
      this.scheduleReconnect();
    };
    client.on('error', lost);
    client.on('end', () => lost(new Error('connection ended')));
    for (const ch of this.channels) await listen(client, ch);
    this.client = client;
    this.retryMs = 100;
  }

  private scheduleReconnect(): void {
    const t = setTimeout(() => {
      this.connect().then(() => {
        this.log.info('notification connection restored');
        this.emit('reconnected');
      }, () => {
        this.retryMs = Math.min(this.retryMs * 2, 5_000);
        this.scheduleReconnect();
      });
    }, this.retryMs);
    t.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const c = this.client;
    this.client = undefined;
    if (c) {
      c.removeAllListeners('end');
      await c.end().catch(() => undefined);
    }
  }
}
