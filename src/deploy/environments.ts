import type { ScopedKind, ScopedDoc } from './scoped.js';
import { nameRows, nextInSpace, usingEnvironment } from './queries.js';
import { deploymentsTo } from './projectQueries.js';
import { environmentTable as TABLE, lifecycleTable, projectGroupTable } from './tables.js';

/** Octopus's DeploymentEnvironment, as bound from a request (the fields Cuttle keeps). */
export interface EnvironmentDoc extends ScopedDoc {
  Name: string;
  Description?: string;
  SortOrder?: number;
  UseGuidedFailure?: boolean;
  AllowDynamicInfrastructure?: boolean;
  ExtensionSettings?: unknown[];
}

export const environmentKind: ScopedKind<EnvironmentDoc> = {
  table: TABLE,
  noun: 'environment',
  async prepare(db, spaceId, input, existing) {
    // A new environment goes last, as in Octopus; a PUT without SortOrder keeps its place.
    const sortOrder = input.SortOrder ?? (existing ? Number(existing.sort_order) : await nextInSpace(db, TABLE, 'sort_order', spaceId));
    return {
      Name: input.Name,
      Description: input.Description ?? '',
      SortOrder: sortOrder,
      UseGuidedFailure: input.UseGuidedFailure ?? false,
      AllowDynamicInfrastructure: input.AllowDynamicInfrastructure ?? false,
      ExtensionSettings: input.ExtensionSettings ?? [],
    };
  },
  columns: (doc) => [doc.SortOrder],
  async usedBy(db, spaceId, row) {
    const lifecycles = await usingEnvironment(db, lifecycleTable, spaceId, row.id);
    const groups = await usingEnvironment(db, projectGroupTable, spaceId, row.id);
    const users = [...nameRows('lifecycle', lifecycles), ...nameRows('project group', groups)];
    if (users.length) return `it is still used by ${users.join(' and by ')}; remove it from ${lifecycles.length + groups.length > 1 ? 'them' : 'there'} first.`;
    // Octopus keeps an environment's deployment history with it: one that was deployed to stays.
    const deployments = await deploymentsTo(db, spaceId, row.id);
    return deployments ? `${deployments} deployment${deployments > 1 ? 's were' : ' was'} made to it, and its history goes with it; keep it (or delete the projects deployed to it first).` : undefined;
  },
};
