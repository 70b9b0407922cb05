// The `Deploy` task: runs a release's frozen process in an environment on the server's built-in
// worker. Each step's run condition and each action's filters decide what runs; variables come from
// the release's snapshot (scoped to the environment, channel and action), the system and earlier
// steps' output variables, substituted into each script and passed in its environment. Sensitive
// values are masked in the log from the moment they are known.
//
// Every action's start and end is written through the task's fenced handle, so a deployment whose
// node died can resume on another node (when its project allows it): what finished is not run
// again and its output variables are restored; the action that was interrupted runs again.
import Type from 'typebox';
import { decrypt, encrypt, type MasterKey } from '../crypto/masterKey.js';
import type { Pool, Queryable } from '../db/pool.js';
import { errorMessage } from '../errors.js';
import type { TaskContext, TaskHandler } from '../tasks/handler.js';
import type { BlockStatus, LogBlock } from '../tasks/log.js';
import type { Outcome } from '../tasks/types.js';
import { recordEvent, type EventCategory } from './events.js';
import { PACKAGE_ACTION, PROP, type ActionDoc, type StepDoc } from './process.js';
import type { SelectedPackage } from './releases.js';
import { archiveKindOf, extractArchive } from '../packages/archive.js';
import { archiveLimits, isPlainFile, shellQuote, substituteInFiles } from '../packages/install.js';
import { selectPackageVersion } from '../packages/queries.js';
import { join } from 'node:path';
import { selectScoped, type ScopedRow } from './queries.js';
import { endAction, selectActions, selectDeployment, selectDeploymentOfTask, selectRelease, startAction, type ActionRow, type DeploymentRow, type ReleaseRow, type StoredOutput } from './releaseQueries.js';
import { selectSpace } from './queries.js';
import { DEPLOY_TASK } from './deployments.js';
import { isTruthy, VariableDictionary } from './substitution.js';
import { channelTable, environmentTable, projectTable } from './tables.js';
import { selectVariables, type VariableValue } from './variableScope.js';
import { unsealed, type StoredVariable } from './variables.js';

interface DeployArguments { readonly DeploymentId: string; readonly [k: string]: unknown }

interface Output { readonly name: string; readonly value: string; readonly sensitive: boolean }

/** Everything a run reads once, before its first step. */
interface Plan {
  readonly deployment: DeploymentRow;
  readonly release: ReleaseRow;
  readonly project: ScopedRow;
  readonly environment: ScopedRow;
  readonly channel: ScopedRow | undefined;
  readonly spaceName: string;
  readonly steps: StepDoc[];
  readonly values: VariableValue[];
  /** What earlier attempts recorded, by action id. */
  readonly previous: Map<string, ActionRow>;
}

type ActionStatus = 'Success' | 'Failed' | 'Skipped' | 'Canceled';

async function loadPlan(db: Queryable, key: MasterKey, spaceId: string, deploymentId: string): Promise<Plan | string> {
  const deployment = await selectDeployment(db, spaceId, deploymentId);
  if (!deployment) return `The deployment ${deploymentId} no longer exists in space ${spaceId}.`;
  const release = await selectRelease(db, spaceId, deployment.release_id);
  const project = await selectScoped(db, projectTable, spaceId, deployment.project_id);
  const environment = await selectScoped(db, environmentTable, spaceId, deployment.environment_id);
  if (!release || !project || !environment) return `The release, project or environment of deployment ${deploymentId} no longer exists.`;
  const channel = await selectScoped(db, channelTable, spaceId, deployment.channel_id);
  const space = await selectSpace(db, spaceId);
  const values = unsealed(key, release.variables_snapshot as StoredVariable[])
    .map((v): VariableValue => ({ name: v.Name, value: v.Value, sensitive: v.IsSensitive, scope: v.Scope }));
  const previous = new Map((await selectActions(db, deploymentId)).map((a) => [a.action_id, a]));
  return { deployment, release, project, environment, channel, spaceName: space?.name ?? spaceId, steps: release.process_snapshot as StepDoc[], values, previous };
}

/** A document field that should hold text; anything else reads as the fallback. */
function text(v: unknown, fallback: string): string {
  return typeof v === 'string' ? v : fallback;
}

function syntaxOf(a: ActionDoc): 'Bash' | 'PowerShell' {
  return a.Properties[PROP.syntax] === 'Bash' ? 'Bash' : 'PowerShell';
}

/** Why an action does not run in this deployment (its filters), or undefined. */
function filteredOut(a: ActionDoc, p: Plan): string | undefined {
  if (a.IsDisabled) return 'it is disabled';
  if (a.Environments.length && !a.Environments.includes(p.environment.id)) return `it runs only in other environments than ${p.environment.name}`;
  if (a.ExcludedEnvironments.includes(p.environment.id)) return `it is excluded from ${p.environment.name}`;
  if (a.Channels.length && !a.Channels.includes(p.deployment.channel_id)) return `it runs only in other channels than ${p.channel?.name ?? p.deployment.channel_id}`;
  return undefined;
}

/** Why an action cannot run on the built-in worker (it needs deployment targets), or undefined. */
function needsTargets(step: StepDoc, a: ActionDoc): string | undefined {
  const roles = (a.Properties[PROP.targetRoles] ?? step.Properties[PROP.targetRoles] ?? '').split(',').map((r) => r.trim()).filter(Boolean);
  if ((a.Properties[PROP.runOnServer]?.toLowerCase() === 'true' || a.ActionType === PACKAGE_ACTION) && !roles.length) return undefined;
  const on = roles.length ? `deployment targets with the role${roles.length > 1 ? 's' : ''} ${roles.join(', ')}` : 'deployment targets';
  return `The step "${step.Name}" runs on ${on}, but this version of Cuttle runs steps only on the server's built-in worker; set it to run on the server (Octopus.Action.RunOnServer "true") without target roles.`;
}

function statusOfOutcome(o: Outcome): ActionStatus {
  return o.kind === 'success' ? 'Success' : o.kind === 'failed' ? 'Failed' : 'Canceled';
}

class DeploymentRun {
  private readonly outputs = new Map<string, Output>();
  private readonly sensitiveValues: string[] = [];
  private failure: string | undefined;
  private stopped: Outcome | undefined;

  private readonly key: MasterKey;

  constructor(private readonly ctx: TaskContext<DeployArguments>, private readonly deps: DeployDeps, private readonly p: Plan) {
    this.key = deps.key;
    this.sensitiveValues = p.values.filter((v) => v.sensitive && v.value.length > 0).map((v) => v.value);
    ctx.sensitive.add(this.sensitiveValues);
  }

  private system(step?: { step: StepDoc; index: number; action?: ActionDoc; actionIndex?: number }): [string, string][] {
    const { deployment, release, project, environment, channel } = this.p;
    const vars: [string, string][] = [
      ['Octopus.Space.Id', deployment.space_id], ['Octopus.Space.Name', this.p.spaceName],
      ['Octopus.Project.Id', project.id], ['Octopus.Project.Name', project.name], ['Octopus.Project.Slug', text(project.doc.Slug, '')],
      ['Octopus.Release.Id', release.id], ['Octopus.Release.Number', release.version], ['Octopus.Release.Notes', text(release.doc.ReleaseNotes, '')],
      ['Octopus.Release.Channel.Id', deployment.channel_id], ['Octopus.Release.Channel.Name', channel?.name ?? ''],
      ['Octopus.Environment.Id', environment.id], ['Octopus.Environment.Name', environment.name],
      ['Octopus.Deployment.Id', deployment.id], ['Octopus.Deployment.Name', text(deployment.doc.Name, '')],
      ['Octopus.Deployment.Comments', text(deployment.doc.Comments, '')],
      ['Octopus.Deployment.CreatedBy.Username', text(deployment.doc.DeployedBy, '')], ['Octopus.Deployment.CreatedBy.Id', text(deployment.doc.DeployedById, '')],
      ['Octopus.Task.Id', this.ctx.task.id], ['Octopus.Task.Attempt', String(this.ctx.task.attempt)],
      ['Octopus.Server.Node', this.ctx.nodeName], ['Octopus.Server.Node.Name', this.ctx.nodeName],
      ['Octopus.Web.DeploymentLink', `/app#/${deployment.space_id}/deployments/${deployment.id}`],
    ];
    if (this.failure !== undefined) vars.push(['Octopus.Deployment.Error', this.failure], ['Octopus.Deployment.ErrorDetail', this.failure]);
    if (step) {
      vars.push(['Octopus.Step.Id', step.step.Id], ['Octopus.Step.Name', step.step.Name], ['Octopus.Step.Number', String(step.index + 1)]);
      if (step.action) {
        vars.push(['Octopus.Action.Id', step.action.Id], ['Octopus.Action.Name', step.action.Name], ['Octopus.Action.ActionType', step.action.ActionType],
          ['Octopus.Action.Number', step.step.Actions.length > 1 ? `${step.index + 1}.${(step.actionIndex ?? 0) + 1}` : String(step.index + 1)]);
      }
    }
    return vars;
  }

  /** The variables one action sees: scoped values, then the system's, then earlier steps' outputs. */
  private dictionary(step?: { step: StepDoc; index: number; action?: ActionDoc; actionIndex?: number }): VariableDictionary {
    const d = new VariableDictionary();
    const selected = selectVariables(this.p.values, { environmentId: this.p.environment.id, channelId: this.p.deployment.channel_id, ...(step?.action ? { actionId: step.action.Id } : {}) });
    for (const v of selected.values()) d.set(v.name, v.value);
    for (const [n, v] of this.system(step)) d.set(n, v);
    for (const o of this.outputs.values()) d.set(o.name, o.value);
    // The step's own properties, as Octopus exposes them (the script body itself is not one).
    if (step?.action) for (const [n, v] of Object.entries(step.action.Properties)) if (n !== PROP.scriptBody) d.set(n, v);
    return d;
  }

  /** Registers an output variable under the action's and the step's name; returns whether it is kept hidden. */
  private addOutput(step: StepDoc, action: ActionDoc, name: string, value: string, sensitive: boolean): boolean {
    const hidden = sensitive || this.sensitiveValues.some((s) => s.length > 3 && value.includes(s));
    if (hidden && value) { this.sensitiveValues.push(value); this.ctx.sensitive.add([value]); }
    for (const owner of new Set([action.Name, step.Name])) {
      const full = `Octopus.Action[${owner}].Output.${name}`;
      this.outputs.set(full.toLowerCase(), { name: full, value, sensitive: hidden });
    }
    return hidden;
  }

  private sealOutputs(produced: readonly Output[]): StoredOutput[] {
    return produced.map((o) => (o.sensitive ? { name: o.name, sealed: encrypt(this.key, o.value) } : { name: o.name, value: o.value }));
  }

  private restore(step: StepDoc, action: ActionDoc, row: ActionRow): void {
    for (const o of row.outputs) this.addOutput(step, action, o.name, o.sealed !== undefined ? decrypt(this.key, o.sealed) : (o.value ?? ''), o.sealed !== undefined);
  }

  private write(fn: (c: Queryable) => Promise<void>): Promise<void> {
    return this.ctx.owned.transaction(fn);
  }

  private async event(category: EventCategory, message: string): Promise<void> {
    const { deployment, release, project, environment } = this.p;
    await this.write((c) => recordEvent(c, {
      spaceId: deployment.space_id, category, message, projectId: project.id, environmentId: environment.id,
      actor: { userId: text(deployment.doc.DeployedById, 'users-system'), username: text(deployment.doc.DeployedBy, 'system') },
      relatedDocumentIds: [deployment.id, this.ctx.task.id, project.id, release.id, environment.id, deployment.space_id],
    }).then(() => undefined));
  }

  private async resumeNote(): Promise<boolean> {
    const rows = [...this.p.previous.values()];
    if (this.ctx.task.attempt <= 1 || !rows.length) return false;
    const interrupted = rows.find((r) => r.status === 'Running') ?? rows[rows.length - 1]!;
    const seen = await this.ctx.owned.transaction(async (c) => (await c.query<{ last_seen: Date | null }>('SELECT last_seen FROM nodes WHERE name = $1', [interrupted.node])).rows[0]?.last_seen);
    await this.ctx.log.warn(`Resuming deployment ${this.p.deployment.id} on node ${this.ctx.nodeName} (attempt ${this.ctx.task.attempt}): node ${interrupted.node} stopped responding (last seen ${seen ? seen.toISOString() : 'never'}) while running it. Actions that finished are not run again; their output variables are restored.`);
    return true;
  }

  private stepSkipReason(step: StepDoc, index: number): string | undefined {
    const skip = (this.p.deployment.doc.SkipStepNames ?? []) as string[];
    if (skip.some((n) => n.toLowerCase() === step.Name.toLowerCase())) return 'the deployment was asked to skip it';
    switch (step.Condition) {
      case 'Success': return this.failure !== undefined ? 'an earlier step failed (it runs only when every earlier step succeeded)' : undefined;
      case 'Failure': return this.failure === undefined ? 'it runs only when an earlier step failed' : undefined;
      case 'Always': return undefined;
      case 'Variable': {
        const expression = step.Properties[PROP.conditionExpression] ?? '';
        const value = this.dictionary({ step, index }).evaluate(expression);
        return isTruthy(value) ? undefined : `its condition ${expression} is "${value}", which is not true`;
      }
    }
  }

  private async runAction(step: StepDoc, index: number, action: ActionDoc, actionIndex: number, log: LogBlock): Promise<ActionStatus> {
    const where = { step, index, action, actionIndex };
    const filtered = filteredOut(action, this.p);
    if (filtered) { await log.info(`Skipped: "${action.Name}" does not run here: ${filtered}.`); return 'Skipped'; }
    const prior = this.p.previous.get(action.Id);
    const node = this.ctx.nodeName;
    const attempt = this.ctx.task.attempt;
    // A package was extracted on the node that died: a later step may need its folder here.
    const moved = action.ActionType === PACKAGE_ACTION && prior !== undefined && prior.node !== node && prior.status === 'Success';
    if (moved) await log.info(`"${action.Name}" extracted its package on node ${prior.node}; extracting it again on node ${node}.`);
    if (prior && prior.attempt < attempt && prior.status !== 'Running' && !moved) {
      this.restore(step, action, prior);
      await log.info(`Not run again: "${action.Name}" finished (${prior.status}) on node ${prior.node} in attempt ${prior.attempt}.`);
      if (prior.status === 'Failed') this.failure ??= `The step "${step.Name}" failed on node ${prior.node}.`;
      return prior.status as ActionStatus;
    }
    if (prior && prior.attempt < attempt && !moved) await log.warn(`"${action.Name}" was interrupted on node ${prior.node} (attempt ${prior.attempt}); running it again on node ${node}.`);
    const targets = needsTargets(step, action);
    if (targets) {
      await log.error(targets);
      await this.write((c) => endAction(c, this.p.deployment.id, action.Id, index, node, attempt, 'Failed', []));
      this.failure ??= targets;
      return 'Failed';
    }
    await this.write((c) => startAction(c, this.p.deployment.id, action.Id, index, node, attempt));
    const dict = this.dictionary(where);
    const produced: Output[] = [];
    const onVariable = (name: string, value: string, sensitive: boolean) => {
      // Kept by its own name: a resumed run registers it again under the action's and step's names.
      produced.push({ name, value, sensitive: this.addOutput(step, action, name, value, sensitive) });
    };
    const outcome = action.ActionType === PACKAGE_ACTION
      ? await this.runPackage(step, action, index, actionIndex, dict, log, onVariable)
      : await this.ctx.runScript({
      body: dict.evaluate(action.Properties[PROP.scriptBody] ?? ''),
      syntax: syntaxOf(action),
      // Every variable also reaches the script's environment (get_octopusvariable reads it there).
      env: Object.fromEntries(dict.evaluatedEntries().filter(([n, v]) => !n.includes('=') && !n.includes('\0') && !v.includes('\0'))),
      log,
      folder: `step-${index + 1}-${actionIndex + 1}`,
      onVariable,
    });
    const status = statusOfOutcome(outcome);
    if (outcome.kind === 'failed') this.failure ??= `The step "${step.Name}" failed: ${outcome.message}`;
    if (outcome.kind === 'canceled' || outcome.kind === 'timedOut') this.stopped = outcome;
    await this.write((c) => endAction(c, this.p.deployment.id, action.Id, index, node, attempt, status, this.sealOutputs(produced)));
    return status;
  }

  /**
   * "Deploy a package": the release's version from the feed, extracted into a fresh folder of this
   * run on this node; variables substituted in the files the step lists; then PreDeploy.sh, Deploy.sh
   * and PostDeploy.sh from the package root when present, as the built-in worker's user.
   */
  private async runPackage(step: StepDoc, action: ActionDoc, index: number, actionIndex: number, dict: VariableDictionary, log: LogBlock,
    onVariable: (name: string, value: string, sensitive: boolean) => void): Promise<Outcome> {
    const selected = ((this.p.release.doc.SelectedPackages ?? []) as SelectedPackage[]).find((s) => s.ActionName.toLowerCase() === action.Name.toLowerCase());
    if (!selected) return { kind: 'failed', message: `Release ${this.p.release.version} chose no package for the step "${action.Name}" (the step was added after the release was made); create a new release.` };
    const packagesDir = this.deps.packagesDir();
    const row = await selectPackageVersion(this.deps.pool, this.p.deployment.space_id, selected.PackageId, selected.Version);
    if (!row || !packagesDir) return { kind: 'failed', message: `The package ${selected.PackageId} ${selected.Version} of release ${this.p.release.version} is no longer in the built-in feed (deleted, or removed by retention); push it again or create a new release.` };
    await log.info(`Extracting package ${row.package_id} ${row.version} (${Number(row.size)} bytes) on node ${this.ctx.nodeName}`);
    const folder = await this.ctx.taskFolder(`package-${index + 1}-${actionIndex + 1}`);
    try {
      const summary = await extractArchive(join(packagesDir, row.rel_path), archiveKindOf(row.file_extension)!, folder.path, await archiveLimits(this.deps.pool), folder.owner);
      await log.info(`Extracted ${summary.files} file(s), ${summary.expandedBytes} bytes, into ${folder.path}`);
    } catch (err) {
      return { kind: 'failed', message: `The package ${row.package_id} ${row.version} could not be extracted: ${errorMessage(err)}` };
    }
    const installed = folder.path;
    for (const n of ['Octopus.Action.Package.InstallationDirectoryPath', 'Package.InstallationDirectoryPath']) dict.set(n, installed);
    dict.set('Octopus.Action.Package.PackageId', row.package_id);
    dict.set('Octopus.Action.Package.PackageVersion', row.version);
    onVariable('Package.InstallationDirectoryPath', installed, false);
    const targets = (action.Properties[PROP.substituteTargets] ?? '').split(/[\n,;]/).map((t) => t.trim()).filter(Boolean);
    if (targets.length && action.Properties[PROP.substituteEnabled]?.toLowerCase() !== 'false') {
      try {
        const changed = await substituteInFiles(installed, targets, (t) => dict.evaluate(t), folder.owner);
        await log.info(changed.length ? `Substituted variables in ${changed.join(', ')}` : `No file matched ${targets.join(', ')} for variable substitution`);
      } catch (err) {
        return { kind: 'failed', message: `Variables could not be substituted in the package's files: ${errorMessage(err)}` };
      }
    }
    const env = Object.fromEntries(dict.evaluatedEntries().filter(([n, v]) => !n.includes('=') && !n.includes('\0') && !v.includes('\0')));
    for (const script of ['PreDeploy.sh', 'Deploy.sh', 'PostDeploy.sh']) {
      if (!(await isPlainFile(join(installed, script)))) continue;
      await log.info(`Running ${script}`);
      // Read and run by the worker's shell, in the package folder: the node never reads a file a script could have swapped.
      const outcome = await this.ctx.runScript({
        body: `cd ${shellQuote(installed)} || exit 1\n. ./${script}\n`, syntax: 'Bash', env, log,
        folder: `step-${index + 1}-${actionIndex + 1}-${script}`, onVariable,
      });
      if (outcome.kind !== 'success') return outcome;
    }
    return { kind: 'success' };
  }

  private async runStep(step: StepDoc, index: number): Promise<void> {
    const block = this.ctx.log.child(`Step ${index + 1}: ${step.Name}`);
    const skip = this.stepSkipReason(step, index);
    if (skip) {
      await block.info(`Skipped: ${skip}.`);
      await block.end('Skipped');
      return;
    }
    if (step.StartTrigger === 'StartWithPrevious') await block.verbose('This step may start with the previous one; Cuttle runs the steps of a deployment one after another.');
    const statuses: ActionStatus[] = [];
    for (const [i, action] of step.Actions.entries()) {
      if (this.stopped) break;
      const log = step.Actions.length > 1 ? block.child(action.Name) : block;
      const status = await this.runAction(step, index, action, i, log);
      statuses.push(status);
      if (log !== block) await log.end(status);
    }
    const status: BlockStatus = statuses.includes('Canceled') || this.stopped ? 'Canceled'
      : statuses.includes('Failed') ? 'Failed'
      : statuses.every((s) => s === 'Skipped') ? 'Skipped' : 'Success';
    await block.end(status);
  }

  async run(): Promise<Outcome> {
    const resumed = await this.resumeNote();
    const { project, release, environment } = this.p;
    const what = `${project.name} release ${release.version} to ${environment.name}`;
    await this.event(resumed ? 'DeploymentResumed' : 'DeploymentStarted', resumed ? `Deploy to ${environment.name} resumed on node ${this.ctx.nodeName} for ${project.name} release ${release.version}` : `Deploy to ${environment.name} started for ${project.name} release ${release.version}`);
    await this.ctx.log.info(`Deploying ${what} (${this.p.deployment.id}) on node ${this.ctx.nodeName}`);
    for (const [i, step] of this.p.steps.entries()) {
      if (this.stopped || this.ctx.signal.aborted) break;
      await this.runStep(step, i);
    }
    if (this.stopped ?? this.ctx.signal.aborted) {
      await this.event('DeploymentCanceled', `Deploy to ${environment.name} canceled for ${project.name} release ${release.version}`).catch(() => undefined);
      return this.stopped ?? { kind: 'canceled' };
    }
    if (this.failure !== undefined) {
      await this.event('DeploymentFailed', `Deploy to ${environment.name} failed for ${project.name} release ${release.version}`);
      return { kind: 'failed', message: this.failure };
    }
    await this.event('DeploymentSucceeded', `Deploy to ${environment.name} succeeded for ${project.name} release ${release.version}`);
    return { kind: 'success' };
  }
}

/** The handler; it needs the database (its plan and fenced writes) and the master key (sensitive values). */
export interface DeployDeps { readonly pool: Pool; readonly key: MasterKey; readonly packagesDir: () => string | undefined }

export function deployHandler(deps: DeployDeps): TaskHandler<DeployArguments> {
  return {
    name: DEPLOY_TASK,
    description: 'Deploy a release to an environment',
    // Whether a deployment resumes after its node died is the project's choice, set when it is queued.
    safeToRerun: false,
    argumentsSchema: Type.Object({ DeploymentId: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: true }),
    permissions: { queue: 'DeploymentCreate', view: 'DeploymentView', cancel: 'DeploymentCreate', rerun: 'DeploymentCreate' },
    queuedBy: 'POST /api/{spaceId}/deployments/create/untenanted/v1',
    // Its node died and it was not resumed: the deployment's outcome is recorded like any other.
    async settledByRecovery(db, task, state, message) {
      const d = await selectDeploymentOfTask(db, task.id);
      if (!d) return;
      const canceled = state === 'Canceled';
      await recordEvent(db, {
        spaceId: d.space_id, category: canceled ? 'DeploymentCanceled' : 'DeploymentFailed', projectId: d.project_id, environmentId: d.environment_id,
        message: `Deploy to ${d.environment_name} ${canceled ? 'canceled' : 'failed'} for ${d.project_name} release ${d.release_version}: ${message}`,
        actor: { userId: text(d.doc.DeployedById, 'users-system'), username: text(d.doc.DeployedBy, 'system') },
        relatedDocumentIds: [d.id, task.id, d.project_id, d.release_id, d.environment_id, d.space_id],
      });
    },
    async run(ctx) {
      let plan: Plan | string;
      try {
        plan = await loadPlan(deps.pool, deps.key, ctx.task.spaceId, ctx.args.DeploymentId);
      } catch (err) {
        return { kind: 'failed', message: `The deployment could not be prepared: ${errorMessage(err)}` };
      }
      if (typeof plan === 'string') return { kind: 'failed', message: plan };
      return new DeploymentRun(ctx, deps, plan).run();
    },
  };
}
