// Channels: a project's release streams. Every project has exactly one default channel (made with
// the project); a channel may follow its own lifecycle instead of the project's.
import { lockedIdsOf, nameRows } from './queries.js';
import { clearDefaultChannel, releasesInChannel } from './projectQueries.js';
import type { ScopedDoc, ScopedKind } from './scoped.js';
import { slugOf } from './projects.js';
import { channelTable, lifecycleTable, projectTable } from './tables.js';

/** Octopus's Channel, as bound from a request. */
export interface ChannelDoc extends ScopedDoc {
  Name: string;
  ProjectId: string;
  Description?: string;
  LifecycleId?: string | null;
  IsDefault?: boolean;
  Slug?: string;
  Rules?: unknown[];
  TenantTags?: string[];
}

export const channelKind: ScopedKind<ChannelDoc> = {
  table: channelTable,
  noun: 'channel',
  async prepare(db, spaceId, input, existing, errors) {
    if (existing && existing.project_id !== input.ProjectId) errors.push(`A channel cannot move to another project; it belongs to ${String(existing.project_id)}.`);
    // Locked until the save commits, as a lifecycle locks the environments it names.
    if (!(await lockedIdsOf(db, projectTable, spaceId, [input.ProjectId])).size) {
      errors.push(`ProjectId names the project ${input.ProjectId}, which does not exist in space ${spaceId}.`);
    }
    const lifecycleId = input.LifecycleId?.trim() || null;
    if (lifecycleId !== null && !(await lockedIdsOf(db, lifecycleTable, spaceId, [lifecycleId])).size) {
      errors.push(`LifecycleId names the lifecycle ${lifecycleId}, which does not exist in space ${spaceId}; leave it null to follow the project's lifecycle.`);
    }
    const wasDefault = existing?.is_default === true;
    const isDefault = input.IsDefault ?? wasDefault;
    if (wasDefault && !isDefault) errors.push('A project always has a default channel: make another channel the default instead of this one.');
    if (isDefault && !errors.length) await clearDefaultChannel(db, input.ProjectId, existing?.id);
    return {
      Name: input.Name,
      ProjectId: input.ProjectId,
      Description: input.Description ?? '',
      LifecycleId: lifecycleId,
      IsDefault: isDefault,
      Slug: input.Slug?.trim() || slugOf(input.Name),
      Rules: input.Rules ?? [],
      TenantTags: input.TenantTags ?? [],
    };
  },
  columns: (doc) => [doc.ProjectId, doc.LifecycleId ?? null, doc.IsDefault ?? false],
  async usedBy(db, spaceId, row) {
    if (row.is_default === true) return 'it is its project\'s default channel; make another channel the default first (a project always has one).';
    const releases = await releasesInChannel(db, spaceId, row.id);
    if (releases.length) return `it has ${nameRows('release', releases).join('')}; delete them first.`;
    return undefined;
  },
};
