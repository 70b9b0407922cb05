// The cluster as one node sees it, read once for a metrics scrape or a telemetry snapshot alike:
// the queue, every registered node (online, heartbeat age) and this node's last shared-folder check.
import { listNodes } from '../cluster/nodes.js';
import type { Pool } from '../db/pool.js';
import { queueCounts, type QueueCounts } from './queries.js';

export interface ClusterView {
  readonly queue: QueueCounts;
  readonly nodes: readonly { readonly name: string; readonly online: boolean; readonly heartbeatAgeSeconds: number | null }[];
  /** Each shared folder as this node last checked it: usable, and every live peer's beacon seen there. */
  readonly folders: readonly { readonly folder: string; readonly ok: boolean; readonly problem?: string }[];
  /** When this node last checked its shared folders (its own clock, which wrote it). */
  readonly checkedAt?: Date;
}

/** Two statements on the node's pool; throws when the database does not answer. */
export async function readClusterView(pool: Pool, nodeName: string, offlineThresholdMs: number): Promise<ClusterView> {
  const [queue, nodes] = await Promise.all([queueCounts(pool), listNodes(pool, offlineThresholdMs)]);
  const report = nodes.find((n) => n.name === nodeName)?.storageReport;
  const unseen = report?.unseenPeers ?? [];
  return {
    queue,
    nodes: nodes.map((n) => ({ name: n.name, online: n.online, heartbeatAgeSeconds: n.heartbeatAgeSeconds })),
    folders: (report?.folders ?? []).map((f) => {
      const blind = unseen.filter((u) => u.folder === f.name);
      const problem = f.problem ?? (blind.length ? blind.map((u) => `cannot see ${u.node}'s beacon (${u.problem})`).join('; ') : undefined);
      return { folder: f.name, ok: f.ok && blind.length === 0, ...(problem ? { problem } : {}) };
    }),
    ...(report?.checkedAt ? { checkedAt: new Date(report.checkedAt) } : {}),
  };
}
