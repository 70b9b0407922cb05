// Project groups: a space's folders of projects. `EnvironmentIds` (an older Octopus field) must name
// environments of the same space, which then cannot be deleted while a group names them.
import { lockedIdsOf, nameRows, referencing } from './queries.js';
import type { ScopedDoc, ScopedKind } from './scoped.js';
import { environmentTable, projectGroupTable, projectTable } from './tables.js';

/** Octopus's ProjectGroup, as bound from a request. */
export interface ProjectGroupDoc extends ScopedDoc {
  Name: string;
  Description?: string;
  EnvironmentIds?: string[];
  RetentionPolicyId?: string | null;
}

export const DEFAULT_PROJECT_GROUP_NAME = 'Default Project Group';

export const projectGroupKind: ScopedKind<ProjectGroupDoc> = {
  table: projectGroupTable,
  noun: 'project group',
  async prepare(db, spaceId, input, _existing, errors) {
    const environmentIds = [...new Set(input.EnvironmentIds ?? [])];
    const known = await lockedIdsOf(db, environmentTable, spaceId, environmentIds);
    for (const e of environmentIds) if (!known.has(e)) errors.push(`EnvironmentIds names the environment ${e}, which does not exist in space ${spaceId}.`);
    return {
      Name: input.Name,
      Description: input.Description ?? '',
      EnvironmentIds: environmentIds,
      // Retention policies are not kept by Cuttle yet; the reference is kept as sent.
      RetentionPolicyId: input.RetentionPolicyId ?? null,
    };
  },
  columns: (doc) => [doc.EnvironmentIds ?? []],
  async usedBy(db, spaceId, row) {
    const projects = nameRows('project', await referencing(db, projectTable, 'project_group_id', spaceId, row.id));
    return projects.length ? `it still holds ${projects.join('')}; move them to another project group first.` : undefined;
  },
};
