import { nodeStatus, type NodeRow } from '../cluster/nodes.js';

export interface StorageStatus {
  /** Ok: every folder usable and every live peer sees this node's beacons (and it sees theirs). */
  readonly Status: 'Ok' | 'Problem' | 'Unknown';
  readonly CheckedAt: string | null;
  readonly Problems: string[];
}

/** What the cluster knows about one node's view of shared storage, from every node's last check. */
export function storageStatus(node: NodeRow, all: readonly NodeRow[]): StorageStatus {
  const report = node.storageReport;
  if (!report.checkedAt) return { Status: 'Unknown', CheckedAt: null, Problems: [] };
  const problems: string[] = [];
  for (const f of report.folders ?? []) if (!f.ok && f.problem) problems.push(f.problem);
  const unseenBySelf = new Set((report.unseenPeers ?? []).map((u) => u.node));
  for (const u of report.unseenPeers ?? []) {
    problems.push(`${node.name} cannot see ${u.node}'s beacon in ${u.folder} (${u.problem}): the two nodes do not share that folder`);
  }
  for (const peer of all) {
    if (peer.name === node.name || !peer.online || !node.online) continue;
    for (const u of peer.storageReport.unseenPeers ?? []) {
      if (u.node === node.name && !unseenBySelf.has(peer.name)) {
        problems.push(`${peer.name} cannot see ${node.name}'s beacon in ${u.folder} (${u.problem}): the two nodes do not share that folder`);
      }
    }
  }
  return { Status: problems.length ? 'Problem' : 'Ok', CheckedAt: report.checkedAt, Problems: problems };
}

function iso(d: Date | null): string | null {
  return d ? d.toISOString() : null;
}

/** Octopus's node document: what the nodes API lists. */
export function nodeDocument(n: NodeRow): object {
  return {
    Id: n.id,
    Name: n.name,
    MaxConcurrentTasks: n.maxConcurrentTasks,
    IsInMaintenanceMode: n.drain,
    Links: { Self: `/api/octopusservernodes/${n.id}`, Details: `/api/octopusservernodes/${n.id}/details` },
  };
}

/**
 * A node as the Nodes page shows it (status, last seen, running tasks, version, shared-storage
 * check): the nodes summary API and `cuttle nodes --format json` both print this.
 */
export function nodeSummary(n: NodeRow, all: readonly NodeRow[]): object {
  return {
    ...nodeDocument(n),
    LastSeen: iso(n.lastSeen),
    IsOffline: !n.online,
    RunningTaskCount: n.runningTasks,
    Version: n.version,
    Status: nodeStatus(n),
    ListenUrl: n.listenUrl,
    StartedAt: iso(n.startedAt),
    SharedStorage: storageStatus(n, all),
  };
}
