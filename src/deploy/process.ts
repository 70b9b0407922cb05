// A project's deployment process: steps of actions, replaced whole by a PUT that carries the Version
// it read (a stale one is refused), with ids assigned to steps and actions sent with `Id: ""`.
import { randomUUID } from 'node:crypto';
import { withTransaction, type Pool, type Queryable } from '../db/pool.js';
import { ConflictError, InputError, NotFoundError } from '../errors.js';
import { recordEvent } from './events.js';
import { selectProcess, updateProcess, type ProcessRow } from './projectQueries.js';
import { lockedIdsOf, selectScoped } from './queries.js';
import type { Actor } from './scoped.js';
import { channelTable, environmentTable, projectTable } from './tables.js';

export const STEP_CONDITIONS = ['Success', 'Failure', 'Always', 'Variable'] as const;
export type StepCondition = (typeof STEP_CONDITIONS)[number];
export const START_TRIGGERS = ['StartAfterPrevious', 'StartWithPrevious'] as const;
export const SCRIPT_ACTION = 'Octopus.Script';
/** "Deploy a package": extracted from the built-in feed on the built-in worker, its scripts run there. */
export const PACKAGE_ACTION = 'Octopus.TentaclePackage';
/** The action types this version runs. */
export const ACTION_TYPES = [SCRIPT_ACTION, PACKAGE_ACTION] as const;
export const BUILTIN_FEED_ID = 'feeds-builtin';

export const PROP = {
  runOnServer: 'Octopus.Action.RunOnServer',
  scriptSource: 'Octopus.Action.Script.ScriptSource',
  syntax: 'Octopus.Action.Script.Syntax',
  scriptBody: 'Octopus.Action.Script.ScriptBody',
  targetRoles: 'Octopus.Action.TargetRoles',
  conditionExpression: 'Octopus.Step.ConditionVariableExpression',
  packageId: 'Octopus.Action.Package.PackageId',
  feedId: 'Octopus.Action.Package.FeedId',
  substituteTargets: 'Octopus.Action.SubstituteInFiles.TargetFiles',
  substituteEnabled: 'Octopus.Action.SubstituteInFiles.Enabled',
  enabledFeatures: 'Octopus.Action.EnabledFeatures',
} as const;

/** The package an action deploys: its first package reference, or the older PackageId property. */
export function packageOf(a: Pick<ActionDoc, 'Packages' | 'Properties'>): { name: string; packageId: string; feedId: string } | undefined {
  const ref = a.Packages[0];
  const packageId = typeof ref?.PackageId === 'string' ? ref.PackageId : a.Properties[PROP.packageId];
  if (!packageId) return undefined;
  const feedId = typeof ref?.FeedId === 'string' ? ref.FeedId : a.Properties[PROP.feedId] ?? BUILTIN_FEED_ID;
  return { name: typeof ref?.Name === 'string' ? ref.Name : '', packageId, feedId };
}

export interface ActionDoc {
  Id: string;
  Name: string;
  ActionType: string;
  Notes?: string | null;
  IsDisabled: boolean;
  IsRequired?: boolean;
  CanBeUsedForProjectVersioning?: boolean;
  WorkerPoolId?: string | null;
  WorkerPoolVariable?: string | null;
  Container?: { Image?: string | null; FeedId?: string | null } | null;
  Environments: string[];
  ExcludedEnvironments: string[];
  Channels: string[];
  TenantTags: string[];
  Packages: Record<string, unknown>[];
  Condition?: string | null;
  Properties: Record<string, string>;
  StepPackageVersion?: string | null;
  Inputs?: unknown;
}

export interface StepDoc {
  Id: string;
  Name: string;
  Properties: Record<string, string>;
  Condition: StepCondition;
  StartTrigger: string;
  PackageRequirement: string;
  Actions: ActionDoc[];
}

/** A PUT body as bound from the request (optional fields absent when not sent). */
export interface ProcessInput {
  Version?: number;
  Steps: (Partial<Omit<StepDoc, 'Actions'>> & { Name: string; Actions: (Partial<ActionDoc> & { Name: string; ActionType: string })[] })[];
}

const newId = (id: string | null | undefined): string => (typeof id === 'string' && id.trim() ? id.trim() : randomUUID());

/** Checks a whole process; every problem is one sentence in `errors`. */
async function checkSteps(db: Queryable, spaceId: string, projectId: string, input: ProcessInput, errors: string[]): Promise<StepDoc[]> {
  const stepNames = new Set<string>();
  const actionNames = new Set<string>();
  const ids = new Set<string>();
  const unique = (id: string, what: string): string => {
    if (ids.has(id)) errors.push(`${what} has the Id ${id} of another step or action; send "" to have a new one assigned.`);
    ids.add(id);
    return id;
  };
  const environments = new Set<string>();
  const channels = new Set<string>();
  const steps = input.Steps.map((s, i): StepDoc => {
    const name = s.Name.trim();
    const label = name ? `Step "${name}"` : `Step ${i + 1}`;
    if (!name) errors.push(`Step ${i + 1} has no Name.`);
    else if (stepNames.has(name.toLowerCase())) errors.push(`Two steps are named "${name}"; step names must differ (without regard to case).`);
    stepNames.add(name.toLowerCase());
    const properties = { ...(s.Properties ?? {}) };
    const condition = (s.Condition ?? 'Success');
    if (condition === 'Variable' && !properties[PROP.conditionExpression]?.trim()) {
      errors.push(`${label} runs on a variable condition but has no ${PROP.conditionExpression} property (e.g. "#{RunIt}").`);
    }
    if (!s.Actions.length) errors.push(`${label} has no actions; a step runs at least one.`);
    const actions = s.Actions.map((a, j): ActionDoc => {
      const aName = a.Name.trim() || (s.Actions.length === 1 ? name : '');
      const aLabel = aName ? `Action "${aName}"` : `Action ${j + 1} of ${label}`;
      if (!aName) errors.push(`${aLabel} has no Name.`);
      else if (actionNames.has(aName.toLowerCase())) errors.push(`Two actions are named "${aName}"; action names must differ across the process (output variables are read by them).`);
      actionNames.add(aName.toLowerCase());
      const props = { ...(a.Properties ?? {}) };
      if (!(ACTION_TYPES as readonly string[]).includes(a.ActionType)) {
        errors.push(`${aLabel} has the action type ${JSON.stringify(a.ActionType)}, which Cuttle does not run; use one of ${ACTION_TYPES.join(', ')}.`);
      } else if (a.ActionType === PACKAGE_ACTION) {
        const pkg = packageOf({ Packages: a.Packages ?? [], Properties: props });
        if (!pkg) errors.push(`${aLabel} deploys a package but names none: add a package reference (Packages: [{PackageId, FeedId: "${BUILTIN_FEED_ID}"}]).`);
        else if (pkg.feedId !== BUILTIN_FEED_ID) errors.push(`${aLabel} takes its package from the feed ${pkg.feedId}; this version has the built-in feed, ${BUILTIN_FEED_ID}, only.`);
        else if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$/.test(pkg.packageId)) errors.push(`${aLabel} names the package id ${JSON.stringify(pkg.packageId)}, which is not a package id.`);
        if ((a.Packages ?? []).length > 1) errors.push(`${aLabel} references ${(a.Packages ?? []).length} packages; a package step deploys one.`);
      } else if (a.ActionType === SCRIPT_ACTION) {
        if ((a.Packages ?? []).length) errors.push(`${aLabel} references packages; this version runs inline scripts without referenced packages (use a package step and a later script step).`);
        const source = props[PROP.scriptSource] ?? 'Inline';
        if (source !== 'Inline') errors.push(`${aLabel} takes its script from a ${source === 'Package' ? 'package' : JSON.stringify(source)}; this version runs inline scripts only (${PROP.scriptSource} "Inline").`);
        props[PROP.scriptSource] = 'Inline';
        const syntax = props[PROP.syntax] ?? 'PowerShell';
        if (syntax !== 'Bash' && syntax !== 'PowerShell') errors.push(`${aLabel} has the script syntax ${JSON.stringify(syntax)}; use Bash or PowerShell.`);
        if (!props[PROP.scriptBody]?.trim()) errors.push(`${aLabel} has no script: set the ${PROP.scriptBody} property.`);
      }
      for (const e of [...(a.Environments ?? []), ...(a.ExcludedEnvironments ?? [])]) environments.add(e);
      for (const c of a.Channels ?? []) channels.add(c);
      return {
        Id: unique(newId(a.Id), aLabel),
        Name: aName,
        ActionType: a.ActionType,
        Notes: a.Notes ?? null,
        IsDisabled: a.IsDisabled ?? false,
        IsRequired: a.IsRequired ?? false,
        CanBeUsedForProjectVersioning: a.CanBeUsedForProjectVersioning ?? false,
        WorkerPoolId: a.WorkerPoolId ?? null,
        WorkerPoolVariable: a.WorkerPoolVariable ?? null,
        Container: { Image: a.Container?.Image ?? null, FeedId: a.Container?.FeedId ?? null },
        Environments: [...new Set(a.Environments ?? [])],
        ExcludedEnvironments: [...new Set(a.ExcludedEnvironments ?? [])],
        Channels: [...new Set(a.Channels ?? [])],
        TenantTags: a.TenantTags ?? [],
        Packages: (a.Packages ?? []).map((p) => ({ ...p, Id: newId(p.Id as string | undefined) })),
        Condition: a.Condition ?? null,
        Properties: props,
        ...(a.StepPackageVersion !== undefined ? { StepPackageVersion: a.StepPackageVersion } : {}),
        ...(a.Inputs !== undefined ? { Inputs: a.Inputs } : {}),
      };
    });
    return {
      Id: unique(newId(s.Id), label),
      Name: name,
      Properties: properties,
      Condition: condition,
      StartTrigger: s.StartTrigger ?? 'StartAfterPrevious',
      PackageRequirement: s.PackageRequirement ?? 'LetOctopusDecide',
      Actions: actions,
    };
  });
  // References are locked until the save commits: an environment cannot be deleted under it.
  const knownEnvironments = await lockedIdsOf(db, environmentTable, spaceId, [...environments]);
  for (const e of environments) if (!knownEnvironments.has(e)) errors.push(`An action names the environment ${e}, which does not exist in space ${spaceId}.`);
  const knownChannels = await lockedIdsOf(db, channelTable, spaceId, [...channels]);
  for (const c of channels) {
    const row = knownChannels.has(c) ? await selectScoped(db, channelTable, spaceId, c) : undefined;
    if (!row || row.project_id !== projectId) errors.push(`An action names the channel ${c}, which is not a channel of project ${projectId}.`);
  }
  return steps;
}

export async function getProcess(db: Queryable, spaceId: string, by: { id?: string; projectId?: string }): Promise<ProcessRow> {
  const row = await selectProcess(db, spaceId, by);
  if (!row) {
    throw new NotFoundError(by.id !== undefined
      ? `There is no deployment process ${by.id} in space ${spaceId}.`
      : `There is no project ${by.projectId} in space ${spaceId}; list them with GET /api/${spaceId}/projects.`);
  }
  return row;
}

/** Replaces the process; a `Version` other than the stored one is a 409 (someone saved in between). */
export async function modifyProcess(pool: Pool, spaceId: string, by: { id?: string; projectId?: string }, input: ProcessInput, actor: Actor): Promise<ProcessRow> {
  return withTransaction(pool, async (c) => {
    const current = await selectProcess(c, spaceId, by, true);
    if (!current) await getProcess(c, spaceId, by);
    const row = current!;
    if (input.Version !== undefined && input.Version !== row.version) {
      throw new ConflictError(`The deployment process of ${row.project_id} was changed since you read it (it is at version ${row.version}, you sent ${input.Version}); GET it again, re-apply your change and PUT it.`);
    }
    // The project row is held FOR KEY SHARE too, so a project delete waits for this save.
    await lockedIdsOf(c, projectTable, spaceId, [row.project_id]);
    const errors: string[] = [];
    const steps = await checkSteps(c, spaceId, row.project_id, input, errors);
    if (errors.length) throw new InputError('The deployment process cannot be saved: ' + errors.join(' '), errors);
    const saved = await updateProcess(c, row.id, steps);
    const project = await selectScoped(c, projectTable, spaceId, row.project_id);
    await recordEvent(c, {
      spaceId, category: 'Modified', actor,
      message: `Modified the deployment process of project "${project?.name ?? row.project_id}"`,
      relatedDocumentIds: [row.id, row.project_id, spaceId],
      projectId: row.project_id,
      changes: { before: { Id: row.id, Version: row.version, Steps: row.steps }, after: { Id: saved.id, Version: saved.version, Steps: saved.steps } },
    });
    return saved;
  });
}

export function presentProcess(row: ProcessRow): object {
  const self = `/api/${row.space_id}/projects/${row.project_id}/deploymentprocesses`;
  return {
    Id: row.id,
    SpaceId: row.space_id,
    ProjectId: row.project_id,
    Version: row.version,
    LastSnapshotId: null,
    Steps: row.steps,
    Links: { Self: self, Project: `/api/${row.space_id}/projects/${row.project_id}`, Template: `${self}/template{?releaseId,channel}` },
  };
}
