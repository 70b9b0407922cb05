import type { Queryable } from '../db/pool.js';
import type { TaskState } from '../tasks/types.js';
import type { ScopedRow, ScopedTable } from './queries.js';

// The SQL of releases, deployments and what each action of a deployment did. Every read names the
// space: a release or deployment of one space is invisible from another. A deployment's state is
// its task's, joined, never copied.

export interface ReleaseRow {
  id: string; space_id: string; project_id: string; channel_id: string; version: string; assembled: Date;
  doc: Record<string, unknown>; process_snapshot: unknown[]; variables_snapshot: unknown[];
}

export interface DeploymentRow {
  id: string; space_id: string; project_id: string; release_id: string; channel_id: string; environment_id: string;
  task_id: string; created: Date; doc: Record<string, unknown>;
  // From the task:
  state: TaskState; completed_time: Date | null; error_message: string | null;
}

export interface ActionRow {
  deployment_id: string; action_id: string; step_index: number; status: string; node: string; attempt: number;
  started: Date; ended: Date | null; outputs: StoredOutput[];
}

/** An output variable as kept between steps: a sensitive value sealed with the master key. */
export interface StoredOutput { readonly name: string; readonly value?: string; readonly sealed?: string }

export interface NewRelease {
  spaceId: string; projectId: string; channelId: string; version: string; doc: object; processSnapshot: unknown[]; variablesSnapshot: unknown[];
}

export async function insertRelease(db: Queryable, r: NewRelease): Promise<ReleaseRow> {
  const res = await db.query<ReleaseRow>(
    `INSERT INTO releases (id, space_id, project_id, channel_id, version, doc, process_snapshot, variables_snapshot)
     VALUES ('Releases-' || nextval('releases_seq'), $1, $2, $3, $4, $5, $6, $7) RETURNING *`,
    [r.spaceId, r.projectId, r.channelId, r.version, JSON.stringify(r.doc), JSON.stringify(r.processSnapshot), JSON.stringify(r.variablesSnapshot)]);
  return res.rows[0]!;
}

export async function selectRelease(db: Queryable, spaceId: string, id: string): Promise<ReleaseRow | undefined> {
  const r = await db.query<ReleaseRow>('SELECT * FROM releases WHERE space_id = $1 AND id = $2', [spaceId, id]);
  return r.rows[0];
}

export async function selectReleaseByVersion(db: Queryable, projectId: string, version: string): Promise<ReleaseRow | undefined> {
  const r = await db.query<ReleaseRow>('SELECT * FROM releases WHERE project_id = $1 AND lower(version) = lower($2)', [projectId, version]);
  return r.rows[0];
}

/** Every version of a project's releases (the version template's "last" is the highest of them). */
export async function releaseVersionsOf(db: Queryable, projectId: string): Promise<string[]> {
  const r = await db.query<{ version: string }>('SELECT version FROM releases WHERE project_id = $1', [projectId]);
  return r.rows.map((x) => x.version);
}

export interface ReleaseFilter { projectId?: string; channelId?: string; ids: string[]; searchByVersion?: string; skip: number; take: number }

export async function selectReleasePage(db: Queryable, spaceId: string, f: ReleaseFilter): Promise<{ rows: ReleaseRow[]; total: number }> {
  const where = ['space_id = $1'];
  const values: unknown[] = [spaceId];
  const add = (sql: string, v: unknown) => { values.push(v); where.push(sql.replace('?', `$${values.length}`)); };
  if (f.projectId !== undefined) add('project_id = ?', f.projectId);
  if (f.channelId !== undefined) add('channel_id = ?', f.channelId);
  if (f.ids.length) add('id = ANY(?)', f.ids);
  if (f.searchByVersion) add(`strpos(lower(version), lower(?)) > 0`, f.searchByVersion);
  values.push(f.take, f.skip);
  const r = await db.query<ReleaseRow & { total: number }>(
    `SELECT *, count(*) OVER ()::int AS total FROM releases WHERE ${where.join(' AND ')}
      ORDER BY assembled DESC, id DESC LIMIT $${values.length - 1} OFFSET $${values.length}`, values);
  const total = r.rows[0]?.total ?? (f.skip > 0 ? await countReleases(db, where, values.slice(0, -2)) : 0);
  return { rows: r.rows, total };
}

async function countReleases(db: Queryable, where: string[], values: unknown[]): Promise<number> {
  const r = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM releases WHERE ${where.join(' AND ')}`, values);
  return r.rows[0]?.n ?? 0;
}

export interface NewDeployment {
  id: string; spaceId: string; projectId: string; releaseId: string; channelId: string; environmentId: string; taskId: string; doc: object;
}

export async function nextDeploymentId(db: Queryable): Promise<string> {
  const r = await db.query<{ id: string }>(`SELECT 'Deployments-' || nextval('deployments_seq') AS id`);
  return r.rows[0]!.id;
}

export async function insertDeployment(db: Queryable, d: NewDeployment): Promise<void> {
  await db.query(
    `INSERT INTO deployments (id, space_id, project_id, release_id, channel_id, environment_id, task_id, doc)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [d.id, d.spaceId, d.projectId, d.releaseId, d.channelId, d.environmentId, d.taskId, JSON.stringify(d.doc)]);
}

const DEPLOYMENT_COLUMNS = `d.*, t.state, t.completed_time, t.error_message`;

export async function selectDeployment(db: Queryable, spaceId: string, id: string): Promise<DeploymentRow | undefined> {
  const r = await db.query<DeploymentRow>(
    `SELECT ${DEPLOYMENT_COLUMNS} FROM deployments d JOIN server_tasks t ON t.id = d.task_id WHERE d.space_id = $1 AND d.id = $2`, [spaceId, id]);
  return r.rows[0];
}

export interface DeploymentFilter {
  ids: string[]; projects: string[]; environments: string[]; channels: string[]; releaseId?: string; taskStates: TaskState[]; skip: number; take: number;
}

export async function selectDeploymentPage(db: Queryable, spaceId: string, f: DeploymentFilter): Promise<{ rows: DeploymentRow[]; total: number }> {
  const where = ['d.space_id = $1'];
  const values: unknown[] = [spaceId];
  const add = (sql: string, v: unknown) => { values.push(v); where.push(sql.replace('?', `$${values.length}`)); };
  if (f.ids.length) add('d.id = ANY(?)', f.ids);
  if (f.projects.length) add('d.project_id = ANY(?)', f.projects);
  if (f.environments.length) add('d.environment_id = ANY(?)', f.environments);
  if (f.channels.length) add('d.channel_id = ANY(?)', f.channels);
  if (f.releaseId !== undefined) add('d.release_id = ?', f.releaseId);
  if (f.taskStates.length) add('t.state = ANY(?)', f.taskStates);
  const from = `FROM deployments d JOIN server_tasks t ON t.id = d.task_id WHERE ${where.join(' AND ')}`;
  const count = await db.query<{ n: number }>(`SELECT count(*)::int AS n ${from}`, values);
  values.push(f.take, f.skip);
  const r = await db.query<DeploymentRow>(
    `SELECT ${DEPLOYMENT_COLUMNS} ${from} ORDER BY d.created DESC, d.id DESC LIMIT $${values.length - 1} OFFSET $${values.length}`, values);
  return { rows: r.rows, total: count.rows[0]?.n ?? 0 };
}

/** The environments a release went to successfully (what its lifecycle's phases count). */
export async function succeededEnvironments(db: Queryable, releaseId: string): Promise<Set<string>> {
  const r = await db.query<{ environment_id: string }>(
    `SELECT DISTINCT d.environment_id FROM deployments d JOIN server_tasks t ON t.id = d.task_id
      WHERE d.release_id = $1 AND t.state = 'Success'`, [releaseId]);
  return new Set(r.rows.map((x) => x.environment_id));
}

export async function selectActions(db: Queryable, deploymentId: string): Promise<ActionRow[]> {
  const r = await db.query<ActionRow>('SELECT * FROM deployment_actions WHERE deployment_id = $1 ORDER BY step_index, started', [deploymentId]);
  return r.rows;
}

/** An action starts (or starts again, on another node after its first node died). */
export async function startAction(db: Queryable, deploymentId: string, actionId: string, stepIndex: number, node: string, attempt: number): Promise<void> {
  await db.query(
    `INSERT INTO deployment_actions (deployment_id, action_id, step_index, status, node, attempt)
     VALUES ($1, $2, $3, 'Running', $4, $5)
     ON CONFLICT (deployment_id, action_id) DO UPDATE SET status = 'Running', node = $4, attempt = $5, started = now(), ended = NULL, outputs = '[]'`,
    [deploymentId, actionId, stepIndex, node, attempt]);
}

export async function endAction(db: Queryable, deploymentId: string, actionId: string, stepIndex: number, node: string, attempt: number, status: string, outputs: readonly StoredOutput[]): Promise<void> {
  await db.query(
    `INSERT INTO deployment_actions (deployment_id, action_id, step_index, status, node, attempt, ended, outputs)
     VALUES ($1, $2, $3, $6, $4, $5, now(), $7)
     ON CONFLICT (deployment_id, action_id) DO UPDATE SET status = $6, node = $4, attempt = $5, ended = now(), outputs = $7`,
    [deploymentId, actionId, stepIndex, node, attempt, status, JSON.stringify(outputs)]);
}

/** A space's resource by name, compared without regard to case (what the client's commands send). */
export async function selectScopedByName(db: Queryable, t: ScopedTable, spaceId: string, name: string, within?: { column: string; value: string }, lock = false): Promise<ScopedRow | undefined> {
  if (within && !t.columns.includes(within.column)) throw new Error(`${t.table} has no column ${within.column}`);
  const r = await db.query<ScopedRow>(
    `SELECT * FROM ${t.table} WHERE space_id = $1 AND lower(name) = lower($2)${within ? ` AND ${within.column} = $3` : ''}${lock ? ' FOR UPDATE' : ''}`,
    within ? [spaceId, name.trim(), within.value] : [spaceId, name.trim()]);
  return r.rows[0];
}

/** The project's default channel (every project has one). */
export async function selectDefaultChannel(db: Queryable, projectId: string): Promise<ScopedRow | undefined> {
  const r = await db.query<ScopedRow>('SELECT * FROM channels WHERE project_id = $1 AND is_default', [projectId]);
  return r.rows[0];
}

/** The deployment a Deploy task runs, with its project's, release's and environment's names. */
export async function selectDeploymentOfTask(db: Queryable, taskId: string): Promise<(DeploymentRow & { project_name: string; release_version: string; environment_name: string }) | undefined> {
  const r = await db.query<DeploymentRow & { project_name: string; release_version: string; environment_name: string }>(
    `SELECT d.*, t.state, t.completed_time, t.error_message, p.name AS project_name, r.version AS release_version, e.name AS environment_name
       FROM deployments d JOIN server_tasks t ON t.id = d.task_id JOIN projects p ON p.id = d.project_id
       JOIN releases r ON r.id = d.release_id JOIN environments e ON e.id = d.environment_id
      WHERE d.task_id = $1`, [taskId]);
  return r.rows[0];
}
