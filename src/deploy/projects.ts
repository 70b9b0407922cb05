// Projects: what is deployed. A new project brings its (empty) deployment process, its variable set
// and its default channel with it, in the same transaction, as the official client expects.
import type { Queryable } from '../db/pool.js';
import { insertScoped, lockedIdsOf, nameRows } from './queries.js';
import { insertProcess, insertVariableSet, projectHasActiveDeployments } from './projectQueries.js';
import type { ScopedDoc, ScopedKind } from './scoped.js';
import { channelTable, lifecycleTable, projectGroupTable, projectTable } from './tables.js';

/** Octopus's default release version template: the last release's major and minor, the next patch. */
export const DEFAULT_VERSION_TEMPLATE = '#{Octopus.Version.LastMajor}.#{Octopus.Version.LastMinor}.#{Octopus.Version.NextPatch}';

export interface VersioningStrategy { Template: string; DonorPackage?: unknown; DonorPackageStepId?: string | null }

/** Octopus's Project, as bound from a request (the fields Cuttle keeps; the rest is defaulted). */
export interface ProjectDoc extends ScopedDoc {
  Name: string;
  ProjectGroupId: string;
  LifecycleId: string;
  Description?: string;
  Slug?: string;
  IsDisabled?: boolean;
  DiscreteChannelRelease?: boolean;
  IncludedLibraryVariableSetIds?: string[];
  DefaultToSkipIfAlreadyInstalled?: boolean;
  TenantedDeploymentMode?: string;
  DefaultGuidedFailureMode?: string;
  VersioningStrategy?: VersioningStrategy;
  ReleaseCreationStrategy?: Record<string, unknown>;
  Templates?: unknown[];
  AutoDeployReleaseOverrides?: unknown[];
  AutoCreateRelease?: boolean;
  ClonedFromProjectId?: string | null;
  ExtensionSettings?: unknown[];
  ProjectConnectivityPolicy?: Record<string, unknown>;
  /** Cuttle's own: a deployment whose node dies resumes on another node (off: it fails naming the node). */
  ResumeDeploymentsOnNodeFailure?: boolean;
}

export function slugOf(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'project';
}

export const processIdOf = (projectId: string): string => `deploymentprocess-${projectId}`;
export const variableSetIdOf = (projectId: string): string => `variableset-${projectId}`;

export const projectKind: ScopedKind<ProjectDoc> = {
  table: projectTable,
  noun: 'project',
  async prepare(db, spaceId, input, existing, errors) {
    // Locked until the save commits: a delete of the group or lifecycle meanwhile waits, then sees this project.
    if (!(await lockedIdsOf(db, projectGroupTable, spaceId, [input.ProjectGroupId])).size) {
      errors.push(`ProjectGroupId names the project group ${input.ProjectGroupId}, which does not exist in space ${spaceId}; list them with GET /api/${spaceId}/projectgroups.`);
    }
    if (!(await lockedIdsOf(db, lifecycleTable, spaceId, [input.LifecycleId])).size) {
      errors.push(`LifecycleId names the lifecycle ${input.LifecycleId}, which does not exist in space ${spaceId}; list them with GET /api/${spaceId}/lifecycles.`);
    }
    if (input.TenantedDeploymentMode !== undefined && input.TenantedDeploymentMode !== 'Untenanted') {
      errors.push(`TenantedDeploymentMode ${input.TenantedDeploymentMode} is not supported: Cuttle deploys untenanted projects only.`);
    }
    const template = input.VersioningStrategy?.Template?.trim();
    if (input.VersioningStrategy && !template) errors.push('VersioningStrategy.Template must not be empty; leave VersioningStrategy out for the default.');
    const before = existing?.doc ?? {};
    return {
      Name: input.Name,
      ProjectGroupId: input.ProjectGroupId,
      LifecycleId: input.LifecycleId,
      Description: input.Description ?? '',
      Slug: input.Slug?.trim() || (before.Slug as string | undefined) || slugOf(input.Name),
      IsDisabled: input.IsDisabled ?? false,
      DiscreteChannelRelease: input.DiscreteChannelRelease ?? false,
      IncludedLibraryVariableSetIds: input.IncludedLibraryVariableSetIds ?? [],
      DefaultToSkipIfAlreadyInstalled: input.DefaultToSkipIfAlreadyInstalled ?? false,
      TenantedDeploymentMode: 'Untenanted',
      DefaultGuidedFailureMode: input.DefaultGuidedFailureMode ?? 'EnvironmentDefault',
      VersioningStrategy: { Template: template || DEFAULT_VERSION_TEMPLATE, DonorPackage: null, DonorPackageStepId: null },
      ReleaseCreationStrategy: input.ReleaseCreationStrategy ?? { ChannelId: null, ReleaseCreationPackage: null, ReleaseCreationPackageStepId: null },
      Templates: input.Templates ?? [],
      AutoDeployReleaseOverrides: input.AutoDeployReleaseOverrides ?? [],
      AutoCreateRelease: input.AutoCreateRelease ?? false,
      ClonedFromProjectId: input.ClonedFromProjectId ?? null,
      ExtensionSettings: input.ExtensionSettings ?? [],
      ProjectConnectivityPolicy: input.ProjectConnectivityPolicy ?? { SkipMachineBehavior: 'None', TargetRoles: [], AllowDeploymentsToNoTargets: false, ExcludeUnhealthyTargets: false },
      ResumeDeploymentsOnNodeFailure: input.ResumeDeploymentsOnNodeFailure ?? false,
    };
  },
  columns: (doc) => [doc.ProjectGroupId, doc.LifecycleId],
  async created(db: Queryable, spaceId, row) {
    await insertProcess(db, processIdOf(row.id), spaceId, row.id);
    await insertVariableSet(db, variableSetIdOf(row.id), spaceId, row.id);
    await insertScoped(db, channelTable, spaceId, 'Default', { Description: '', Slug: 'default', Rules: [], TenantTags: [] }, [row.id, null, true]);
  },
  async usedBy(db, spaceId, row) {
    const active = await projectHasActiveDeployments(db, spaceId, row.id);
    if (active.length) return `it has deployments queued or running (${nameRows('task', active).join('')}); cancel them or wait for them to finish first.`;
    return undefined;
  },
};
