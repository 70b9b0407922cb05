import type { ScopedKind, ScopedDoc } from './scoped.js';
import { nextInSpace, type ScopedTable } from './queries.js';

/** Octopus's DeploymentEnvironment, as bound from a request (the fields Cuttle keeps). */
export interface EnvironmentDoc extends ScopedDoc {
  Name: string;
  Description?: string;
  SortOrder?: number;
  UseGuidedFailure?: boolean;
  AllowDynamicInfrastructure?: boolean;
  ExtensionSettings?: unknown[];
}

const TABLE: ScopedTable = { table: 'environments', idPrefix: 'Environments', columns: ['sort_order'], orderBy: 'sort_order, lower(name)' };

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
};
