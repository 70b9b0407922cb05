import { nodeStatus, type NodeRow } from '../cluster/nodes.js';
import { storageStatus } from '../storage/report.js';

/** Octopus collection shape. */
export function collection<T>(itemType: string, items: T[], skip: number, take: number, total: number, base: string): object {
  // take=0 asks for the count alone: one (empty) page.
  const pages = take > 0 ? Math.max(1, Math.ceil(total / take)) : 1;
  return {
    ItemType: itemType,
    TotalResults: total,
    ItemsPerPage: take,
    NumberOfPages: pages,
    LastPageNumber: pages - 1,
    Items: items,
    Links: { Self: `${base}?skip=${skip}&take=${take}`, 'Page.All': `${base}/all`, 'Page.Current': `${base}?skip=${skip}&take=${take}`, 'Page.Last': `${base}?skip=${(pages - 1) * take}&take=${take}` },
  };
}

export function iso(d: Date | null): string | null {
  return d ? d.toISOString() : null;
}

export function nodeResource(n: NodeRow): object {
  return {
    Id: n.id,
    Name: n.name,
    MaxConcurrentTasks: n.maxConcurrentTasks,
    IsInMaintenanceMode: n.drain,
    Links: { Self: `/api/octopusservernodes/${n.id}`, Details: `/api/octopusservernodes/${n.id}/details` },
  };
}

export function nodeSummaryResource(n: NodeRow, all: readonly NodeRow[]): object {
  return {
    ...nodeResource(n),
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
