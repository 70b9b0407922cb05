// Lifecycles: the phases a release is promoted through. No phases allows every environment of the
// space (the default lifecycle of every space); with phases, only the environments they name.
import { randomUUID } from 'node:crypto';
import type { Queryable } from '../db/pool.js';
import { lockedIdsOf, nameRows, referencing } from './queries.js';
import type { ScopedDoc, ScopedKind } from './scoped.js';
import { channelTable, environmentTable, lifecycleTable, projectTable } from './tables.js';

/** Octopus's RetentionPeriod. */
export interface RetentionPeriod { Unit: 'Days' | 'Items'; QuantityToKeep: number; ShouldKeepForever: boolean }

/** Octopus's Phase, as bound from a request. */
export interface PhaseDoc {
  /** Empty, null or absent: the server assigns one. */
  Id?: string | null;
  Name: string;
  AutomaticDeploymentTargets?: string[] | null;
  OptionalDeploymentTargets?: string[] | null;
  MinimumEnvironmentsBeforePromotion?: number | null;
  IsOptionalPhase?: boolean | null;
  /** Absent or null: the lifecycle's own policy applies. */
  ReleaseRetentionPolicy?: RetentionPeriod | null;
  TentacleRetentionPolicy?: RetentionPeriod | null;
}

/** Octopus's Lifecycle, as bound from a request. */
export interface LifecycleDoc extends ScopedDoc {
  Name: string;
  Description?: string;
  Phases?: PhaseDoc[];
  ReleaseRetentionPolicy?: RetentionPeriod;
  TentacleRetentionPolicy?: RetentionPeriod;
}

/** What a new lifecycle keeps when it says nothing: everything, as Octopus's default lifecycle. */
export const KEEP_FOREVER: RetentionPeriod = Object.freeze({ Unit: 'Days', QuantityToKeep: 0, ShouldKeepForever: true });

export const DEFAULT_LIFECYCLE_NAME = 'Default Lifecycle';

/** Every environment a lifecycle's phases name, in phase order, each once. */
export function environmentsOf(doc: { Phases?: PhaseDoc[] }): string[] {
  const ids: string[] = [];
  for (const p of doc.Phases ?? []) for (const e of [...(p.AutomaticDeploymentTargets ?? []), ...(p.OptionalDeploymentTargets ?? [])]) if (!ids.includes(e)) ids.push(e);
  return ids;
}

function checkPhases(phases: PhaseDoc[], known: Set<string>, spaceId: string, errors: string[]): PhaseDoc[] {
  const names = new Map<string, string>();
  const ids = new Set<string>();
  const placed = new Map<string, string>();
  return phases.map((p, i) => {
    const name = p.Name.trim();
    const label = name ? `Phase "${name}"` : `Phase ${i + 1}`;
    if (!name) errors.push(`Phase ${i + 1} has no Name.`);
    else if (names.has(name.toLowerCase())) errors.push(`Two phases are named "${name}"; phase names must differ (without regard to case).`);
    else names.set(name.toLowerCase(), name);

    const id = p.Id?.trim() || randomUUID();
    if (ids.has(id)) errors.push(`${label} has the Id ${id} of an earlier phase; send "" to have a new one assigned.`);
    ids.add(id);

    const automatic = p.AutomaticDeploymentTargets ?? [];
    const optional = p.OptionalDeploymentTargets ?? [];
    for (const e of [...automatic, ...optional]) {
      if (!known.has(e)) errors.push(`${label} names the environment ${e}, which does not exist in space ${spaceId}.`);
      const other = placed.get(e);
      if (other !== undefined && other !== label) errors.push(`The environment ${e} is in both ${other} and ${label}; an environment belongs to one phase.`);
      else if (other === label && automatic.includes(e) && optional.includes(e)) errors.push(`${label} names the environment ${e} as both automatic and optional.`);
      placed.set(e, label);
    }
    const count = new Set([...automatic, ...optional]).size;
    const minimum = p.MinimumEnvironmentsBeforePromotion ?? 0;
    if (minimum > count) errors.push(`${label} asks for ${minimum} environments before promotion but has only ${count}.`);
    return {
      Id: id,
      Name: name,
      AutomaticDeploymentTargets: [...new Set(automatic)],
      OptionalDeploymentTargets: [...new Set(optional)],
      MinimumEnvironmentsBeforePromotion: minimum,
      IsOptionalPhase: p.IsOptionalPhase ?? false,
      ReleaseRetentionPolicy: p.ReleaseRetentionPolicy ?? null,
      TentacleRetentionPolicy: p.TentacleRetentionPolicy ?? null,
    };
  });
}

export const lifecycleKind: ScopedKind<LifecycleDoc> = {
  table: lifecycleTable,
  noun: 'lifecycle',
  async prepare(db: Queryable, spaceId, input, _existing, errors) {
    // Locked until the save commits: an environment delete meanwhile waits, then sees this lifecycle.
    const known = await lockedIdsOf(db, environmentTable, spaceId, environmentsOf(input));
    return {
      Name: input.Name,
      Description: input.Description ?? '',
      Phases: checkPhases(input.Phases ?? [], known, spaceId, errors),
      ReleaseRetentionPolicy: input.ReleaseRetentionPolicy ?? KEEP_FOREVER,
      TentacleRetentionPolicy: input.TentacleRetentionPolicy ?? KEEP_FOREVER,
    };
  },
  columns: (doc) => [environmentsOf(doc)],
  async usedBy(db, spaceId, row) {
    const users = [...nameRows('project', await referencing(db, projectTable, 'lifecycle_id', spaceId, row.id)), ...nameRows('channel', await referencing(db, channelTable, 'lifecycle_id', spaceId, row.id))];
    return users.length ? `it is still used by ${users.join(' and by ')}; give them another lifecycle first.` : undefined;
  },
};
