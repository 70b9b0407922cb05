// The space-scoped resource tables, in one place so that kinds referring to each other (a
// lifecycle names environments; an environment is refused deletion while a lifecycle names it)
// need not import each other.
import type { ScopedTable } from './queries.js';

export const environmentTable: ScopedTable = { table: 'environments', idPrefix: 'Environments', columns: ['sort_order'], orderBy: 'sort_order, lower(name)' };
/** `environment_ids`: every environment the phases name (kept from the document on each save). */
export const lifecycleTable: ScopedTable = { table: 'lifecycles', idPrefix: 'Lifecycles', columns: ['environment_ids'], orderBy: 'lower(name), id' };
export const projectGroupTable: ScopedTable = { table: 'project_groups', idPrefix: 'ProjectGroups', columns: ['environment_ids'], orderBy: 'lower(name), id' };
/** `project_group_id`, `lifecycle_id`: the project's references, constrained by foreign keys. */
export const projectTable: ScopedTable = { table: 'projects', idPrefix: 'Projects', columns: ['project_group_id', 'lifecycle_id'], orderBy: 'lower(name), id' };
/** `project_id`, `lifecycle_id` (null: the project's), `is_default`: one default channel per project. */
export const channelTable: ScopedTable = { table: 'channels', idPrefix: 'Channels', columns: ['project_id', 'lifecycle_id', 'is_default'], orderBy: 'project_id, NOT is_default, lower(name), id' };
