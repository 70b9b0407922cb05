import type { Logger } from 'pino';
import type { Pool } from '../db/pool.js';
import { errorMessage } from '../errors.js';
import { listNodes } from '../cluster/nodes.js';
import { setStorageReport } from '../cluster/queries.js';
import { checkFolders, checkPeerBeacons, writeBeacons, type UnseenPeer } from './folders.js';
import { getSharedPaths, resolvePaths, type ResolvedPaths } from './sharedPaths.js';

export interface StorageMonitorOptions {
  readonly pool: Pool;
  readonly nodeId: string;
  readonly nodeName: string;
  readonly nonce: string;
  readonly intervalMs: number;
  readonly offlineThresholdMs: number;
  readonly log: Logger;
}

/**
 * Periodically proves each shared folder usable and that this node sees the same folders as its
 * peers (their beacons carry the nonce the database holds), and records the finding on its node row.
 */
export class StorageMonitor {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private lastProblems = '';
  /** True while every folder is usable; task claiming consults it. */
  usable = true;
  paths: ResolvedPaths | undefined;

  constructor(private readonly o: StorageMonitorOptions) {}

  start(): void {
    this.timer = setInterval(() => void this.check(), this.o.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  async check(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const settings = await getSharedPaths(this.o.pool);
      const paths = resolvePaths(settings);
      if (!paths) return;
      this.paths = paths;
      // Never created here: a share that is not mounted leaves an empty mount point, and folders
      // made in it would quietly put logs on local disk. (`cuttle path` and node start create them.)
      const folders = await checkFolders(paths, false);
      let usable = folders.every((f) => f.ok);
      if (usable) await writeBeacons(paths, this.o.nodeName, this.o.nonce);
      let unseen: UnseenPeer[] = [];
      if (usable) {
        const nodes = await listNodes(this.o.pool, this.o.offlineThresholdMs);
        unseen = await checkPeerBeacons(paths, this.o.nodeName, nodes);
        if (unseen.length) {
          // A peer may have restarted between our read of its nonce and of its beacon: look once more.
          unseen = await checkPeerBeacons(paths, this.o.nodeName, (await listNodes(this.o.pool, this.o.offlineThresholdMs))
            .filter((n) => unseen.some((u) => u.node === n.name)));
        }
        // Seeing none of the live peers in some folder means this node cannot show that it shares
        // storage with the cluster: it takes no tasks until it can (their logs would go astray).
        const peers = nodes.filter((n) => n.online && n.name !== this.o.nodeName && n.storageNonce).map((n) => n.name);
        const blind = peers.length > 0 && folders.some((f) => peers.every((p) => unseen.some((u) => u.node === p && u.folder === f.name)));
        if (blind) usable = false;
      }
      this.usable = usable;
      const report = {
        checkedAt: new Date().toISOString(),
        folders: folders.map((f) => ({ name: f.name, path: f.path, ok: f.ok, ...(f.problem ? { problem: f.problem } : {}) })),
        unseenPeers: unseen,
      };
      await setStorageReport(this.o.pool, this.o.nodeId, report);
      const problems = [...folders.filter((f) => !f.ok).map((f) => f.problem), ...unseen.map((u) => `cannot see ${u.node}'s beacon in ${u.folder} (${u.problem})`)].join('; ');
      if (problems !== this.lastProblems) {
        if (problems) this.o.log.error({ problems }, 'shared storage problem: this node does not see the shared folders the cluster uses');
        else if (this.lastProblems) this.o.log.info({}, 'shared storage is healthy again');
        this.lastProblems = problems;
      }
    } catch (err) {
      this.o.log.warn({ err: errorMessage(err) }, 'shared storage check failed');
    } finally {
      this.running = false;
    }
  }
}
