// Octopus's dashboard: the latest deployment of every project to every environment of a space, in
// one statement (DISTINCT ON over the project/environment index), with its release and task state.
import type { Queryable } from '../db/pool.js';
import { TAKE_EVERYTHING, selectScopedPage } from './queries.js';
import { environmentTable, projectGroupTable, projectTable } from './tables.js';

interface ItemRow {
  id: string; project_id: string; environment_id: string; release_id: string; channel_id: string; version: string; task_id: string; created: Date;
  state: string; queue_time: Date; start_time: Date | null; completed_time: Date | null; error_message: string | null; has_warnings: boolean;
}

const ALL = { skip: 0, take: TAKE_EVERYTHING, ids: [] };
const FINAL = new Set(['Success', 'Failed', 'Canceled', 'TimedOut']);

/** Octopus's Duration text: from the start to completion, or to now while it runs; empty while queued. */
export function durationText(from: Date | null, to: Date | null, now = new Date()): string {
  if (!from) return '';
  const s = Math.max(0, Math.round(((to ?? now).getTime() - from.getTime()) / 1000));
  if (s < 60) return `${s} second${s === 1 ? '' : 's'}`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} minute${m === 1 ? '' : 's'}`;
  const h = Math.floor(m / 60);
  return `${h} hour${h === 1 ? '' : 's'}`;
}

export async function dashboard(db: Queryable, spaceId: string): Promise<object> {
  const [projects, groups, environments, items] = await Promise.all([
    selectScopedPage(db, projectTable, spaceId, ALL),
    selectScopedPage(db, projectGroupTable, spaceId, ALL),
    selectScopedPage(db, environmentTable, spaceId, ALL),
    db.query<ItemRow>(
      `SELECT DISTINCT ON (d.project_id, d.environment_id)
              d.id, d.project_id, d.environment_id, d.release_id, d.channel_id, r.version, d.task_id, d.created,
              t.state, t.queue_time, t.start_time, t.completed_time, t.error_message, t.has_warnings
         FROM deployments d
         JOIN releases r ON r.id = d.release_id
         JOIN server_tasks t ON t.id = d.task_id
        WHERE d.space_id = $1
        ORDER BY d.project_id, d.environment_id, d.created DESC, d.id DESC`, [spaceId]),
  ]);
  return {
    Projects: projects.rows.map((p) => ({ Id: p.id, Name: p.name, ProjectGroupId: p.doc.ProjectGroupId, LifecycleId: p.doc.LifecycleId, IsDisabled: p.doc.IsDisabled === true })),
    ProjectGroups: groups.rows.map((g) => ({ Id: g.id, Name: g.name })),
    Environments: environments.rows.map((e) => ({ Id: e.id, Name: e.name, SortOrder: e.doc.SortOrder })),
    Items: items.rows.map((i) => ({
      Id: i.id, DeploymentId: i.id, ProjectId: i.project_id, EnvironmentId: i.environment_id, ReleaseId: i.release_id, ReleaseVersion: i.version, ChannelId: i.channel_id, TenantId: null,
      TaskId: i.task_id, State: i.state, Created: i.created.toISOString(), QueueTime: i.queue_time.toISOString(),
      StartTime: i.start_time?.toISOString() ?? null, CompletedTime: i.completed_time?.toISOString() ?? null,
      Duration: durationText(i.start_time, i.completed_time),
      ErrorMessage: i.error_message ?? '', HasWarningsOrErrors: i.has_warnings || i.state === 'Failed', IsCompleted: FINAL.has(i.state), IsCurrent: true, HasPendingInterruptions: false,
    })),
    PreviousItems: [],
    Tenants: [],
    IsFiltered: false,
    Links: { Self: `/api/${spaceId}/dashboard` },
  };
}
