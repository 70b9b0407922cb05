import type { Queryable } from '../db/pool.js';

// The SQL of a project's parts: its deployment process and variable set (one each, made with the
// project), its releases and deployments. Every statement names the space: a resource of one
// space is invisible from another.

export interface ProcessRow { id: string; space_id: string; project_id: string; version: number; steps: unknown[] }
export interface VariableSetRow { id: string; space_id: string; owner_id: string; version: number; variables: unknown[] }

export async function insertProcess(db: Queryable, id: string, spaceId: string, projectId: string): Promise<void> {
  await db.query('INSERT INTO deployment_processes (id, space_id, project_id) VALUES ($1, $2, $3)', [id, spaceId, projectId]);
}

export async function insertVariableSet(db: Queryable, id: string, spaceId: string, ownerId: string): Promise<void> {
  await db.query('INSERT INTO variable_sets (id, space_id, owner_id) VALUES ($1, $2, $3)', [id, spaceId, ownerId]);
}

export async function selectProcess(db: Queryable, spaceId: string, by: { id?: string; projectId?: string }, forUpdate = false): Promise<ProcessRow | undefined> {
  const [column, value] = by.id !== undefined ? ['id', by.id] : ['project_id', by.projectId];
  const r = await db.query<ProcessRow>(`SELECT * FROM deployment_processes WHERE space_id = $1 AND ${column} = $2${forUpdate ? ' FOR UPDATE' : ''}`, [spaceId, value]);
  return r.rows[0];
}

export async function updateProcess(db: Queryable, id: string, steps: unknown[]): Promise<ProcessRow> {
  const r = await db.query<ProcessRow>('UPDATE deployment_processes SET steps = $2, version = version + 1 WHERE id = $1 RETURNING *', [id, JSON.stringify(steps)]);
  return r.rows[0]!;
}

export async function selectVariableSet(db: Queryable, spaceId: string, id: string, forUpdate = false): Promise<VariableSetRow | undefined> {
  const r = await db.query<VariableSetRow>(`SELECT * FROM variable_sets WHERE space_id = $1 AND id = $2${forUpdate ? ' FOR UPDATE' : ''}`, [spaceId, id]);
  return r.rows[0];
}

export async function updateVariableSet(db: Queryable, id: string, variables: unknown[]): Promise<VariableSetRow> {
  const r = await db.query<VariableSetRow>('UPDATE variable_sets SET variables = $2, version = version + 1 WHERE id = $1 RETURNING *', [id, JSON.stringify(variables)]);
  return r.rows[0]!;
}

/** The project's deployment tasks still queued or running (a project that has them cannot be deleted). */
export async function projectHasActiveDeployments(db: Queryable, spaceId: string, projectId: string): Promise<{ id: string; name: string }[]> {
  const r = await db.query<{ id: string; name: string }>(
    `SELECT t.id, t.description AS name FROM deployments d JOIN server_tasks t ON t.id = d.task_id
      WHERE d.space_id = $1 AND d.project_id = $2 AND t.state IN ('Queued', 'Executing', 'Cancelling') ORDER BY t.seq LIMIT 10`, [spaceId, projectId]);
  return r.rows;
}

/** How many deployments went to an environment (one that has any is in use). */
export async function deploymentsTo(db: Queryable, spaceId: string, environmentId: string): Promise<number> {
  const r = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM deployments WHERE space_id = $1 AND environment_id = $2', [spaceId, environmentId]);
  return r.rows[0]?.n ?? 0;
}

/** The releases made in a channel (a channel that has any is in use). */
export async function releasesInChannel(db: Queryable, spaceId: string, channelId: string): Promise<{ id: string; name: string }[]> {
  const r = await db.query<{ id: string; name: string }>(
    'SELECT id, version AS name FROM releases WHERE space_id = $1 AND channel_id = $2 ORDER BY assembled LIMIT 10', [spaceId, channelId]);
  return r.rows;
}

/** Makes every other channel of the project not the default (before one becomes it). */
export async function clearDefaultChannel(db: Queryable, projectId: string, exceptId: string | undefined): Promise<void> {
  await db.query('UPDATE channels SET is_default = false WHERE project_id = $1 AND is_default AND id IS DISTINCT FROM $2', [projectId, exceptId ?? null]);
}
