import { isAbsolute, join, resolve } from 'node:path';
import { InputError } from '../errors.js';
import type { Queryable } from '../db/pool.js';
import { getSetting, putSetting } from '../cluster/queries.js';

/** The shared folders, by their Octopus names; sub-folders of the cluster-shared root. */
export const SHARED_FOLDERS = ['Artifacts', 'TaskLogs', 'Packages', 'Telemetry', 'EventExports', 'Imports'] as const;
export type SharedFolder = (typeof SHARED_FOLDERS)[number];

/** What `cuttle path` stores in the database: a root and any individual overrides. */
export interface SharedPathSettings {
  readonly clusterShared?: string;
  readonly folders?: Partial<Record<SharedFolder, string>>;
}

export type ResolvedPaths = Readonly<Record<SharedFolder, string>>;

// Kept in the cluster-wide settings, so every node reads the same folders.
const SETTINGS_KEY = 'shared_paths';

export async function getSharedPaths(db: Queryable): Promise<SharedPathSettings> {
  return (await getSetting<SharedPathSettings>(db, SETTINGS_KEY)) ?? {};
}

export async function setSharedPaths(db: Queryable, s: SharedPathSettings): Promise<void> {
  await putSetting(db, SETTINGS_KEY, s);
}

/** Every folder's effective location; a folder set individually overrides the root. */
export function resolvePaths(s: SharedPathSettings): ResolvedPaths | undefined {
  const out: Partial<Record<SharedFolder, string>> = {};
  for (const f of SHARED_FOLDERS) {
    const p = s.folders?.[f] ?? (s.clusterShared ? join(s.clusterShared, f) : undefined);
    if (!p) return undefined;
    out[f] = p;
  }
  return Object.freeze(out as Record<SharedFolder, string>);
}

export function requireAbsolute(flag: string, path: string): string {
  if (!path || path.includes('\0')) throw new InputError(`${flag} needs a folder path.`);
  if (!isAbsolute(path)) {
    throw new InputError(`${flag} "${path}" is a relative path, but every node must see the same absolute path; give an absolute path such as /mnt/cuttle-shared.`);
  }
  return resolve(path);
}

/** True when child is parent or lies below it. */
export function isWithin(child: string, parent: string): boolean {
  const c = resolve(child) + '/';
  const p = resolve(parent).replace(/\/+$/, '') + '/';
  return c.startsWith(p);
}
