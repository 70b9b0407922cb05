// Releases: a version of a project with its deployment process and variables frozen as they were
// (later edits never change it). Made by Octopus's `releases/create/v1` command, which names the
// project by name and may leave the version, channel and packages to the server.
import pg from 'pg';
import semver from 'semver';
import { withTransaction, type Pool, type Queryable } from '../db/pool.js';
import { ConflictError, InputError, NotFoundError } from '../errors.js';
import { recordEvent } from './events.js';
import { PACKAGE_ACTION, packageOf, type StepDoc } from './process.js';
import { selectBuildInformation, selectLatestVersion, selectPackageVersion } from '../packages/queries.js';
import { DEFAULT_VERSION_TEMPLATE, processIdOf, variableSetIdOf } from './projects.js';
import { selectProcess, selectVariableSet } from './projectQueries.js';
import type { ScopedRow } from './queries.js';
import {
  insertRelease, releaseVersionsOf, selectDefaultChannel, selectRelease, selectReleaseByVersion, selectReleasePage, selectScopedByName,
  type ReleaseFilter, type ReleaseRow,
} from './releaseQueries.js';
import type { Actor } from './scoped.js';
import { VariableDictionary } from './substitution.js';
import { channelTable, projectTable } from './tables.js';

/** Octopus's CreateReleaseCommandV1, as bound from a request. */
export interface CreateReleaseCommand {
  ProjectName: string;
  ReleaseVersion?: string;
  ChannelName?: string;
  Packages?: string[];
  PackageVersion?: string;
  ReleaseNotes?: string;
  IgnoreIfAlreadyExists?: boolean;
  IgnoreChannelRules?: boolean;
  CustomFields?: Record<string, string>;
}

export interface CreatedRelease { readonly release: ReleaseRow; readonly created: boolean }

/** Octopus's release versions: SemVer, or up to four numeric parts (1.2.3.4) with a pre-release tag. */
export function versionProblem(v: string): string | undefined {
  if (v.length > 349) return 'is longer than 349 characters';
  if (semver.valid(v)) return undefined;
  if (/^\d+(\.\d+){0,3}(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$/.test(v)) return undefined;
  return 'is not a version (use SemVer such as 1.2.3 or 1.2.3-beta.1)';
}

/** The highest of the versions (by SemVer, coercing four-part ones), as the template's "last". */
function lastVersion(versions: readonly string[]): semver.SemVer | undefined {
  let best: semver.SemVer | undefined;
  for (const v of versions) {
    const s = semver.parse(v) ?? semver.coerce(v, { includePrerelease: true });
    if (s && (!best || semver.gt(s, best))) best = s;
  }
  return best;
}

/** The next version by the project's template (Octopus's default: 0.0.1, then 0.0.2, …). */
export function nextVersion(template: string, versions: readonly string[], now = new Date()): string {
  const last = lastVersion(versions);
  const [major, minor, patch] = last ? [last.major, last.minor, last.patch] : [0, 0, 0];
  const build = last ? Number(String(last.build[0] ?? '0').replace(/\D/g, '') || 0) : 0;
  const pad = (n: number) => String(n).padStart(2, '0');
  const dict = new VariableDictionary([
    ['Octopus.Version.LastMajor', String(major)], ['Octopus.Version.LastMinor', String(minor)],
    ['Octopus.Version.LastPatch', String(patch)], ['Octopus.Version.LastBuild', String(build)],
    ['Octopus.Version.NextMajor', String(major + 1)], ['Octopus.Version.NextMinor', String(minor + 1)],
    ['Octopus.Version.NextPatch', String(patch + 1)], ['Octopus.Version.NextBuild', String(build + 1)],
    ['Octopus.Date.Year', String(now.getUTCFullYear())], ['Octopus.Date.Month', pad(now.getUTCMonth() + 1)],
    ['Octopus.Date.Day', pad(now.getUTCDate())], ['Octopus.Date.DayOfYear', String(Math.floor((now.getTime() - Date.UTC(now.getUTCFullYear(), 0, 0)) / 86_400_000))],
    ['Octopus.Time.Hour', pad(now.getUTCHours())], ['Octopus.Time.Minute', pad(now.getUTCMinutes())], ['Octopus.Time.Second', pad(now.getUTCSeconds())],
  ]);
  return dict.evaluate(template).trim();
}

export async function findProject(db: Queryable, spaceId: string, name: string, lock = false): Promise<ScopedRow> {
  const project = await selectScopedByName(db, projectTable, spaceId, name, undefined, lock);
  if (!project) throw new NotFoundError(`There is no project named "${name}" in space ${spaceId}; list them with GET /api/${spaceId}/projects.`);
  return project;
}

/** The snapshot ids a release shows: the project's process or variable set id, `-s-` and the release number. */
export const processSnapshotIdOf = (r: ReleaseRow): string => `${processIdOf(r.project_id)}-s-${r.id.replace(/^Releases-/, '')}`;
export const variablesSnapshotIdOf = (r: ReleaseRow): string => `${variableSetIdOf(r.project_id)}-s-${r.id.replace(/^Releases-/, '')}`;

/** The release a snapshot id names (`deploymentprocess-Projects-1-s-7` → Releases-7), or undefined. */
export function releaseOfSnapshot(id: string): string | undefined {
  const m = /^(?:deploymentprocess|variableset)-.+-s-(\d+)$/.exec(id);
  return m ? `Releases-${m[1]}` : undefined;
}

export async function createRelease(pool: Pool, spaceId: string, cmd: CreateReleaseCommand, actor: Actor): Promise<CreatedRelease> {
  try {
    return await withTransaction(pool, async (c) => {
      // Locked: two releases made at once (on any nodes) take consecutive versions from the template.
      const project = await findProject(c, spaceId, cmd.ProjectName, true);
      if (project.doc.IsDisabled === true) throw new InputError(`The project ${project.name} is disabled; enable it (IsDisabled false) to create releases.`);
      const errors: string[] = [];
      const channel = cmd.ChannelName?.trim()
        ? await selectScopedByName(c, channelTable, spaceId, cmd.ChannelName, { column: 'project_id', value: project.id })
        : await selectDefaultChannel(c, project.id);
      if (!channel) throw new NotFoundError(`The project ${project.name} has no channel named "${String(cmd.ChannelName)}"; list them with GET /api/${spaceId}/projects/${project.id}/channels.`);
      const process = await selectProcess(c, spaceId, { projectId: project.id });
      const steps = (process?.steps ?? []) as StepDoc[];
      if (!steps.length) errors.push(`The project ${project.name} has no steps in its deployment process; add a step before creating a release.`);
      const selected = await selectPackages(c, spaceId, project.name, steps, cmd, errors);
      const template = (project.doc.VersioningStrategy as { Template?: string } | undefined)?.Template ?? DEFAULT_VERSION_TEMPLATE;
      const version = cmd.ReleaseVersion?.trim() || nextVersion(template, await releaseVersionsOf(c, project.id));
      const problem = versionProblem(version);
      if (problem) {
        errors.push(cmd.ReleaseVersion?.trim()
          ? `ReleaseVersion "${version}" ${problem}.`
          : `The project's version template "${template}" gave "${version}", which ${problem}; fix VersioningStrategy.Template or send a ReleaseVersion.`);
      }
      if (errors.length) throw new InputError('The release cannot be created: ' + errors.join(' '), errors);
      const existing = await selectReleaseByVersion(c, project.id, version);
      if (existing) {
        if (cmd.IgnoreIfAlreadyExists) return { release: existing, created: false };
        throw alreadyExists(project.name, version);
      }
      const variables = await selectVariableSet(c, spaceId, variableSetIdOf(project.id));
      const release = await insertRelease(c, {
        spaceId, projectId: project.id, channelId: channel.id, version,
        doc: {
          ReleaseNotes: cmd.ReleaseNotes ?? '', IgnoreChannelRules: cmd.IgnoreChannelRules ?? false, CustomFields: cmd.CustomFields ?? {},
          SelectedPackages: selected, BuildInformation: await buildInformationOf(c, spaceId, selected), CreatedBy: actor.username,
        },
        processSnapshot: steps,
        variablesSnapshot: variables?.variables ?? [],
      });
      await recordEvent(c, {
        spaceId, category: 'Created', actor, projectId: project.id,
        message: `Created Release ${version} of project ${project.name}`,
        relatedDocumentIds: [release.id, project.id, channel.id, spaceId],
      });
      return { release, created: true };
    });
  } catch (err) {
    // The same version made at the same moment on another node.
    if (err instanceof pg.DatabaseError && err.code === '23505' && err.constraint === 'releases_version') {
      const project = await findProject(pool, spaceId, cmd.ProjectName);
      const again = cmd.ReleaseVersion ? await selectReleaseByVersion(pool, project.id, cmd.ReleaseVersion) : undefined;
      if (again && cmd.IgnoreIfAlreadyExists) return { release: again, created: false };
      throw alreadyExists(project.name, cmd.ReleaseVersion ?? '(the next version)');
    }
    throw err;
  }
}

/** Octopus's SelectedPackage, with the package id beside the action it is for. */
export interface SelectedPackage { ActionName: string; PackageReferenceName: string; PackageId: string; Version: string }

/**
 * The version of each package the process deploys: from `Packages` (`<package id or action name>:<version>`,
 * or `<action>:<reference>:<version>`), else `PackageVersion`, else the latest in the feed (the latest
 * release when there is one). Every choice must be in the feed; the release freezes it.
 */
async function selectPackages(db: Queryable, spaceId: string, project: string, steps: StepDoc[], cmd: CreateReleaseCommand, errors: string[]): Promise<SelectedPackage[]> {
  const wanted = (cmd.Packages ?? []).map((p) => {
    const parts = p.split(':');
    if (parts.length < 2 || parts.length > 3 || parts.some((x) => !x.trim())) errors.push(`Packages entry "${p}" is not <package id or action name>:<version> (or <action>:<reference>:<version>).`);
    return { text: p, key: parts[0]!.trim().toLowerCase(), ref: parts.length === 3 ? parts[1]!.trim().toLowerCase() : undefined, version: parts[parts.length - 1]!.trim(), used: false };
  });
  const out: SelectedPackage[] = [];
  for (const step of steps) {
    for (const a of step.Actions) {
      const pkg = a.ActionType === PACKAGE_ACTION ? packageOf(a) : undefined;
      if (!pkg) continue;
      const match = wanted.find((w) => (w.key === a.Name.toLowerCase() && (w.ref === undefined || w.ref === pkg.name.toLowerCase())) || (w.ref === undefined && w.key === pkg.packageId.toLowerCase()));
      if (match) match.used = true;
      const version = match?.version ?? cmd.PackageVersion?.trim();
      const row = version ? await selectPackageVersion(db, spaceId, pkg.packageId, version) : await selectLatestVersion(db, spaceId, pkg.packageId);
      if (!row) {
        errors.push(version
          ? `The step "${a.Name}" deploys ${pkg.packageId} ${version}, which is not in the built-in feed of ${spaceId}; push it first (POST /api/${spaceId}/packages/raw).`
          : `The step "${a.Name}" deploys ${pkg.packageId}, which has no version in the built-in feed of ${spaceId}; push it first (POST /api/${spaceId}/packages/raw).`);
        continue;
      }
      out.push({ ActionName: a.Name, PackageReferenceName: pkg.name, PackageId: row.package_id, Version: row.version });
    }
  }
  for (const w of wanted) if (!w.used) errors.push(`Packages entry "${w.text}" matches no package step of ${project} (by package id or step name).`);
  return out;
}

async function buildInformationOf(db: Queryable, spaceId: string, selected: readonly SelectedPackage[]): Promise<object[]> {
  const out: object[] = [];
  for (const s of selected) {
    const info = await selectBuildInformation(db, spaceId, s.PackageId, s.Version);
    if (info) out.push({ PackageId: info.package_id, Version: info.version, ...info.doc });
  }
  return out;
}

function alreadyExists(project: string, version: string): ConflictError {
  return new ConflictError(`The project ${project} already has a release ${version}; choose another ReleaseVersion, or send "IgnoreIfAlreadyExists": true to accept the one there is.`);
}

export async function getRelease(db: Queryable, spaceId: string, id: string): Promise<ReleaseRow> {
  const r = await selectRelease(db, spaceId, id);
  if (!r) throw new NotFoundError(`There is no release ${id} in space ${spaceId}; list them with GET /api/${spaceId}/releases.`);
  return r;
}

export function listReleases(db: Queryable, spaceId: string, f: ReleaseFilter): Promise<{ rows: ReleaseRow[]; total: number }> {
  return selectReleasePage(db, spaceId, f);
}

/** Octopus's Release resource. */
export function presentRelease(r: ReleaseRow): object {
  const space = `/api/${r.space_id}`;
  const self = `${space}/releases/${r.id}`;
  const d = r.doc;
  return {
    Id: r.id,
    SpaceId: r.space_id,
    ProjectId: r.project_id,
    ChannelId: r.channel_id,
    Version: r.version,
    ReleaseNotes: d.ReleaseNotes ?? '',
    IgnoreChannelRules: d.IgnoreChannelRules ?? false,
    Assembled: r.assembled.toISOString(),
    ProjectDeploymentProcessSnapshotId: processSnapshotIdOf(r),
    ProjectVariableSetSnapshotId: variablesSnapshotIdOf(r),
    LibraryVariableSetSnapshotIds: [],
    SelectedPackages: d.SelectedPackages ?? [],
    SelectedGitResources: [],
    BuildInformation: d.BuildInformation ?? [],
    CustomFields: d.CustomFields ?? {},
    VersionControlReference: null,
    Links: {
      Self: self,
      Project: `${space}/projects/${r.project_id}`,
      Channel: `${space}/channels/${r.channel_id}`,
      Deployments: `${self}/deployments{?skip,take}`,
      ProjectDeploymentProcessSnapshot: `${space}/deploymentprocesses/${processSnapshotIdOf(r)}`,
      ProjectVariableSnapshot: `${space}/variables/${variablesSnapshotIdOf(r)}`,
      Web: `/app#/${r.space_id}/releases/${r.id}`,
    },
  };
}
