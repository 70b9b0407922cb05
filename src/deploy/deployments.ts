// Deployments: a release sent to an environment. Each is one `Deploy` task, queued in the same
// transaction as the deployment row (so neither exists without the other), after the release's
// lifecycle has allowed the environment. Deployments of one project to one environment run one at a
// time (the task's concurrency tag), as in Octopus.
import { withTransaction, type Pool, type Queryable } from '../db/pool.js';
import { ConflictError, InputError, NotFoundError } from '../errors.js';
import { insertTask } from '../tasks/queries.js';
import type { TaskRow } from '../tasks/types.js';
import { recordEvent } from './events.js';
import type { PhaseDoc } from './lifecycles.js';
import { variableSetIdOf } from './projects.js';
import { selectVariableSet } from './projectQueries.js';
import { TAKE_EVERYTHING, selectScoped, selectScopedPage, type ScopedRow } from './queries.js';
import {
  insertDeployment, nextDeploymentId, selectDeployment, selectDeploymentPage, selectReleaseByVersion, selectScopedByName, succeededEnvironments,
  type DeploymentFilter, type DeploymentRow, type ReleaseRow,
} from './releaseQueries.js';
import { findProject, getRelease, processSnapshotIdOf } from './releases.js';
import type { Actor } from './scoped.js';
import { getSpace } from './spaces.js';
import { channelTable, environmentTable, lifecycleTable, projectTable } from './tables.js';

/** The task type of a deployment (Octopus's name). */
export const DEPLOY_TASK = 'Deploy';

/** A deployment's task carries its project and environment as its concurrency tag: one at a time per pair. */
export function deploymentTag(projectId: string, environmentId: string): string {
  return `${projectId}/${environmentId}`;
}

function likeLiteral(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/**
 * LIKE patterns over task concurrency tags matching the deployment tasks of any of these projects
 * (all when none) to any of these environments (all when none); empty when neither is given.
 */
export function deploymentTagPatterns(projects: readonly string[], environments: readonly string[]): string[] {
  if (!projects.length && !environments.length) return [];
  const ps = projects.length ? projects.map(likeLiteral) : ['%'];
  const es = environments.length ? environments.map(likeLiteral) : ['%'];
  return ps.flatMap((p) => es.map((e) => `${p}/${e}`));
}

/** Octopus's CreateDeploymentUntenantedCommandV1, as bound from a request. */
export interface CreateDeploymentsCommand {
  ProjectName: string;
  ReleaseVersion: string;
  EnvironmentNames: string[];
  SkipStepNames?: string[];
  SpecificMachineNames?: string[];
  ExcludedMachineNames?: string[];
  UseGuidedFailure?: boolean;
  RunAt?: string;
  NoRunAfter?: string;
  Variables?: Record<string, string>;
  ForcePackageDownload?: boolean;
  ForcePackageRedeployment?: boolean;
  UpdateVariableSnapshot?: boolean;
  Comments?: string;
}

/** Octopus's Deployment resource as POSTed to /deployments (by id rather than by name). */
export interface DeploymentDoc {
  ReleaseId: string;
  EnvironmentId: string;
  Comments?: string;
  SkipActions?: string[];
  SpecificMachineIds?: string[];
  ExcludedMachineIds?: string[];
  UseGuidedFailure?: boolean;
  ForcePackageDownload?: boolean;
  ForcePackageRedeployment?: boolean;
  QueueTime?: string;
  QueueTimeExpiry?: string;
  FormValues?: Record<string, unknown>;
  TenantId?: string;
}

interface Options {
  skipStepNames: string[];
  comments: string;
  forcePackageDownload: boolean;
  forcePackageRedeployment: boolean;
}

export interface QueuedDeployment { readonly deploymentId: string; readonly task: TaskRow }

/** What this version does not do, refused with a sentence rather than ignored. */
function unsupported(c: { machines?: number; guided?: boolean; runAt?: string; noRunAfter?: string; prompted?: number; tenant?: string }, errors: string[]): void {
  if (c.machines) errors.push('Deployment targets (specific or excluded machines) were named, but this version runs every step on the server\'s built-in worker; leave them out.');
  if (c.guided) errors.push('Guided failure is not supported; leave UseGuidedFailure out or false.');
  if (c.runAt || c.noRunAfter) errors.push('Scheduled deployments (RunAt, NoRunAfter, QueueTime) are not supported; leave them out to deploy now.');
  if (c.prompted) errors.push('Prompted variables are not supported; set the values in the project\'s variables instead.');
  if (c.tenant) errors.push('Tenanted deployments are not supported: Cuttle deploys untenanted projects only.');
}

/** Why the release may not go to the environment yet (its lifecycle's phases), or undefined. */
async function lifecycleRefusal(db: Queryable, release: ReleaseRow, project: ScopedRow, channel: ScopedRow | undefined, environment: ScopedRow): Promise<string | undefined> {
  const lifecycleId = (channel?.lifecycle_id as string | null | undefined) ?? (project.lifecycle_id as string);
  const lifecycle = await selectScoped(db, lifecycleTable, release.space_id, lifecycleId);
  const phases = (lifecycle?.doc.Phases ?? []) as PhaseDoc[];
  if (!lifecycle || !phases.length) return undefined;
  const envsOf = (p: PhaseDoc) => [...new Set([...(p.AutomaticDeploymentTargets ?? []), ...(p.OptionalDeploymentTargets ?? [])])];
  const at = phases.findIndex((p) => envsOf(p).includes(environment.id));
  const names = new Map((await selectScopedPage(db, environmentTable, release.space_id, { skip: 0, take: TAKE_EVERYTHING, ids: phases.flatMap(envsOf) })).rows.map((e) => [e.id, e.name]));
  const named = (ids: string[]) => ids.map((id) => names.get(id) ?? id);
  if (at < 0) {
    return `The lifecycle "${lifecycle.name}" of ${project.name} does not include the environment ${environment.name}; it deploys to ${named(phases.flatMap(envsOf)).join(', ')}.`;
  }
  const done = await succeededEnvironments(db, release.id);
  for (const p of phases.slice(0, at)) {
    if (p.IsOptionalPhase) continue;
    const envs = envsOf(p);
    const needed = p.MinimumEnvironmentsBeforePromotion || envs.length;
    const reached = envs.filter((e) => done.has(e)).length;
    if (reached < needed) {
      const missing = named(envs.filter((e) => !done.has(e)));
      const how = needed === envs.length ? missing.join(' and ') : `${needed - reached} more of ${missing.join(', ')}`;
      return `Release ${release.version} of ${project.name} cannot be deployed to ${environment.name} yet: the lifecycle "${lifecycle.name}" requires the phase "${p.Name}" first (deploy it to ${how}).`;
    }
  }
  return undefined;
}

async function queueOne(c: Queryable, spaceId: string, release: ReleaseRow, project: ScopedRow, environment: ScopedRow, o: Options, actor: Actor): Promise<QueuedDeployment> {
  const id = await nextDeploymentId(c);
  const description = `Deploy ${project.name} release ${release.version} to ${environment.name}`;
  const task = await insertTask(c, {
    spaceId, name: DEPLOY_TASK, description, arguments: { DeploymentId: id },
    // Cuttle's own: a project may let its deployments resume on another node when theirs dies.
    retryOnNodeFailure: project.doc.ResumeDeploymentsOnNodeFailure === true,
    concurrencyTag: deploymentTag(project.id, environment.id),
    timeoutSeconds: null,
    createdBy: actor.userId,
  });
  await insertDeployment(c, {
    id, spaceId, projectId: project.id, releaseId: release.id, channelId: release.channel_id, environmentId: environment.id, taskId: task.id,
    doc: {
      Name: `Deploy to ${environment.name}`, Comments: o.comments, SkipStepNames: o.skipStepNames,
      ForcePackageDownload: o.forcePackageDownload, ForcePackageRedeployment: o.forcePackageRedeployment,
      DeployedBy: actor.username, DeployedById: actor.userId,
    },
  });
  await recordEvent(c, {
    spaceId, category: 'DeploymentQueued', actor, projectId: project.id, environmentId: environment.id,
    message: `Deploy to ${environment.name} queued for ${project.name} release ${release.version}`,
    relatedDocumentIds: [id, task.id, project.id, release.id, environment.id, spaceId],
  });
  return { deploymentId: id, task };
}

async function checkedTargets(c: Queryable, spaceId: string, release: ReleaseRow, project: ScopedRow, environments: ScopedRow[], skipStepNames: string[]): Promise<void> {
  const space = await getSpace(c, spaceId);
  if (space.task_queue_stopped) {
    throw new ConflictError(`The task queue of space ${space.name} (${spaceId}) is stopped, so nothing can be deployed in it; start it (PUT the space with "TaskQueueStopped": false) first.`);
  }
  if (project.doc.IsDisabled === true) throw new InputError(`The project ${project.name} is disabled; enable it (IsDisabled false) to deploy it.`);
  const steps = (release.process_snapshot as { Name: string }[]).map((s) => s.Name.toLowerCase());
  const unknown = skipStepNames.filter((n) => !steps.includes(n.trim().toLowerCase()));
  if (unknown.length) throw new InputError(`SkipStepNames names ${unknown.map((n) => `"${n}"`).join(', ')}, which release ${release.version} has no step of; its steps are ${(release.process_snapshot as { Name: string }[]).map((s) => `"${s.Name}"`).join(', ')}.`);
  const channel = await selectScoped(c, channelTable, spaceId, release.channel_id);
  const refusals: string[] = [];
  for (const e of environments) {
    const why = await lifecycleRefusal(c, release, project, channel, e);
    if (why) refusals.push(why);
  }
  if (refusals.length) throw new InputError(refusals.join(' '), refusals);
}

async function refreshVariables(c: Queryable, release: ReleaseRow): Promise<void> {
  const set = await selectVariableSet(c, release.space_id, variableSetIdOf(release.project_id));
  await c.query('UPDATE releases SET variables_snapshot = $2 WHERE id = $1', [release.id, JSON.stringify(set?.variables ?? [])]);
}

/** `deployments/create/untenanted/v1`: a release by version, to environments by name; one deployment each. */
export async function createDeployments(pool: Pool, spaceId: string, cmd: CreateDeploymentsCommand, actor: Actor): Promise<QueuedDeployment[]> {
  const errors: string[] = [];
  unsupported({
    machines: (cmd.SpecificMachineNames?.length ?? 0) + (cmd.ExcludedMachineNames?.length ?? 0),
    guided: cmd.UseGuidedFailure === true, runAt: cmd.RunAt, noRunAfter: cmd.NoRunAfter, prompted: Object.keys(cmd.Variables ?? {}).length,
  }, errors);
  const names = [...new Set(cmd.EnvironmentNames.map((n) => n.trim()))];
  if (!names.length || names.some((n) => !n)) errors.push('EnvironmentNames must name at least one environment, and no name may be empty.');
  if (errors.length) throw new InputError('The deployment cannot be queued: ' + errors.join(' '), errors);
  return withTransaction(pool, async (c) => {
    const project = await findProject(c, spaceId, cmd.ProjectName);
    const release = await selectReleaseByVersion(c, project.id, cmd.ReleaseVersion.trim());
    if (!release) throw new NotFoundError(`The project ${project.name} has no release ${cmd.ReleaseVersion}; create it with POST /api/${spaceId}/releases/create/v1, or list them with GET /api/${spaceId}/projects/${project.id}/releases.`);
    const environments: ScopedRow[] = [];
    for (const n of names) {
      // FOR KEY SHARE through the foreign key once inserted; looked up here to name a missing one.
      const e = await selectScopedByName(c, environmentTable, spaceId, n);
      if (!e) throw new NotFoundError(`There is no environment named "${n}" in space ${spaceId}; list them with GET /api/${spaceId}/environments.`);
      environments.push(e);
    }
    const skip = (cmd.SkipStepNames ?? []).map((s) => s.trim()).filter(Boolean);
    await checkedTargets(c, spaceId, release, project, environments, skip);
    if (cmd.UpdateVariableSnapshot) await refreshVariables(c, release);
    const o: Options = { skipStepNames: skip, comments: cmd.Comments ?? '', forcePackageDownload: cmd.ForcePackageDownload ?? false, forcePackageRedeployment: cmd.ForcePackageRedeployment ?? false };
    const out: QueuedDeployment[] = [];
    for (const e of environments) out.push(await queueOne(c, spaceId, release, project, e, o, actor));
    return out;
  });
}

/** `POST /api/{space}/deployments`: Octopus's older way, by release and environment ids. */
export async function createDeployment(pool: Pool, spaceId: string, d: DeploymentDoc, actor: Actor): Promise<QueuedDeployment> {
  const errors: string[] = [];
  unsupported({
    machines: (d.SpecificMachineIds?.length ?? 0) + (d.ExcludedMachineIds?.length ?? 0),
    guided: d.UseGuidedFailure === true, runAt: d.QueueTime, noRunAfter: d.QueueTimeExpiry,
    prompted: Object.keys(d.FormValues ?? {}).length, ...(d.TenantId ? { tenant: d.TenantId } : {}),
  }, errors);
  if (errors.length) throw new InputError('The deployment cannot be queued: ' + errors.join(' '), errors);
  return withTransaction(pool, async (c) => {
    const release = await getRelease(c, spaceId, d.ReleaseId);
    const project = (await selectScoped(c, projectTable, spaceId, release.project_id))!;
    const environment = await selectScoped(c, environmentTable, spaceId, d.EnvironmentId);
    if (!environment) throw new NotFoundError(`There is no environment ${d.EnvironmentId} in space ${spaceId}; list them with GET /api/${spaceId}/environments.`);
    // SkipActions names action ids; a step is skipped when all its actions are.
    const steps = release.process_snapshot as { Name: string; Actions: { Id: string }[] }[];
    const skipIds = new Set(d.SkipActions ?? []);
    const unknown = [...skipIds].filter((id) => !steps.some((s) => s.Actions.some((a) => a.Id === id)));
    if (unknown.length) throw new InputError(`SkipActions names ${unknown.join(', ')}, which are not actions of release ${release.version}.`);
    const skip = steps.filter((s) => s.Actions.every((a) => skipIds.has(a.Id))).map((s) => s.Name);
    await checkedTargets(c, spaceId, release, project, [environment], skip);
    return queueOne(c, spaceId, release, project, environment, {
      skipStepNames: skip, comments: d.Comments ?? '', forcePackageDownload: d.ForcePackageDownload ?? false, forcePackageRedeployment: d.ForcePackageRedeployment ?? false,
    }, actor);
  });
}

export async function getDeployment(db: Queryable, spaceId: string, id: string): Promise<DeploymentRow> {
  const d = await selectDeployment(db, spaceId, id);
  if (!d) throw new NotFoundError(`There is no deployment ${id} in space ${spaceId}; list them with GET /api/${spaceId}/deployments.`);
  return d;
}

export function listDeployments(db: Queryable, spaceId: string, f: DeploymentFilter): Promise<{ rows: DeploymentRow[]; total: number }> {
  return selectDeploymentPage(db, spaceId, f);
}

/** Octopus's Deployment resource (with the task's state, which Octopus shows beside it). */
export function presentDeployment(d: DeploymentRow, release?: ReleaseRow): object {
  const space = `/api/${d.space_id}`;
  const self = `${space}/deployments/${d.id}`;
  const doc = d.doc;
  return {
    Id: d.id,
    SpaceId: d.space_id,
    Name: doc.Name ?? 'Deploy',
    ReleaseId: d.release_id,
    ChannelId: d.channel_id,
    EnvironmentId: d.environment_id,
    ProjectId: d.project_id,
    TenantId: null,
    TaskId: d.task_id,
    DeploymentProcessId: release ? processSnapshotIdOf(release) : `deploymentprocess-${d.project_id}-s-${d.release_id.replace(/^Releases-/, '')}`,
    ManifestVariableSetId: `variableset-${d.project_id}-s-${d.release_id.replace(/^Releases-/, '')}`,
    Created: d.created.toISOString(),
    QueueTime: null,
    QueueTimeExpiry: null,
    ForcePackageDownload: doc.ForcePackageDownload ?? false,
    ForcePackageRedeployment: doc.ForcePackageRedeployment ?? false,
    SkipActions: [],
    SkipStepNames: doc.SkipStepNames ?? [],
    SpecificMachineIds: [],
    ExcludedMachineIds: [],
    DeployedToMachineIds: [],
    UseGuidedFailure: false,
    FailureEncountered: d.state === 'Failed' || d.state === 'TimedOut',
    Comments: doc.Comments ?? '',
    FormValues: {},
    DeployedBy: doc.DeployedBy ?? null,
    DeployedById: doc.DeployedById ?? null,
    Changes: [],
    ChangesMarkdown: '',
    TaskState: d.state,
    Links: {
      Self: self,
      Release: `${space}/releases/${d.release_id}`,
      Environment: `${space}/environments/${d.environment_id}`,
      Project: `${space}/projects/${d.project_id}`,
      Task: `/api/tasks/${d.task_id}`,
      Artifacts: `${space}/artifacts?regarding=${d.id}`,
      Web: `/app#/${d.space_id}/deployments/${d.id}`,
    },
  };
}
