import type { User } from './users.js';

export { AUTH_CHANNEL } from './queries.js';

/**
 * Who an API key (by its hash) belongs to, remembered for a few seconds so
 * that the request path costs no query. Only successes are kept. Any change that could revoke a
 * credential notifies AUTH_CHANNEL, which empties every node's cache at once; the short lifetime
 * bounds staleness if that notification is lost (the listener also clears it on reconnect).
 */
export class CredentialCache {
  private readonly entries = new Map<string, { user: User; expires: number }>();

  constructor(private readonly ttlMs = 5_000, private readonly maxEntries = 10_000) {}

  get(key: string): User | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.expires <= performance.now()) { this.entries.delete(key); return undefined; }
    return e.user;
  }

  set(key: string, user: User): void {
    if (this.entries.size >= this.maxEntries) this.entries.clear();
    this.entries.set(key, { user, expires: performance.now() + this.ttlMs });
  }

  clear(): void {
    this.entries.clear();
  }
}
