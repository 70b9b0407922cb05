// Which value of each variable a deployment step sees: Octopus variable scoping, as a pure function.
//
// A value applies when every dimension its scope names (a non-empty list) contains the context's
// id for that dimension. Cuttle runs steps on the server only, so a value scoped by Role, Machine,
// TenantTag (or any other dimension) never applies, nor one scoped by Channel or Action when the
// context has no such id.
// ProcessOwner (a runbook or a project's deployment process) is ignored unless the context names
// its process owner: Cuttle has no runbooks, so every process a deployment runs is the project's
// own, and a value scoped to it applies (then, when given, the id must match like any other).
//
// Of the values that apply, the most specific wins, ranked as Octopus documents it ("Scope
// specificity", most specific first): the step/action, machine, role, tenant tag, environment,
// channel, process, then unscoped. Each dimension outweighs all those below it together, so more
// matching dimensions beat fewer when the most specific one is shared (Environment + Channel beats
// Environment alone) but an Action-scoped value beats an Environment + Channel one. Equal ranks go
// to the later value in the list.
import type { Scope, ScopeKey } from './variables.js';

export type { Scope };

export interface VariableValue { name: string; value: string; sensitive: boolean; scope: Scope }

/** Where a step runs: `processOwnerId` is only needed to tell a runbook's values from a deployment's. */
export interface ScopeContext { environmentId: string; channelId?: string; actionId?: string; processOwnerId?: string }

const WEIGHT: Record<ScopeKey, number> = { Action: 64, Machine: 32, Role: 16, TenantTag: 8, Environment: 4, Channel: 2, ProcessOwner: 1 };

/** How specific a value's scope is in this context (0 when unscoped), or -1 when it does not apply. */
export function specificity(scope: Scope, ctx: ScopeContext): number {
  const ids: Partial<Record<string, string>> = { Environment: ctx.environmentId, Channel: ctx.channelId, Action: ctx.actionId, ProcessOwner: ctx.processOwnerId };
  let rank = 0;
  for (const [key, values] of Object.entries(scope)) {
    if (!values?.length) continue; // an empty list scopes nothing
    if (key === 'ProcessOwner' && ctx.processOwnerId === undefined) continue;
    const id = Object.hasOwn(ids, key) ? ids[key] : undefined;
    if (id === undefined || !values.includes(id)) return -1;
    rank += WEIGHT[key as ScopeKey];
  }
  return rank;
}

/** For each variable name (compared case-insensitively), the most specific value that applies, keyed by its name as written. */
export function selectVariables(values: readonly VariableValue[], ctx: ScopeContext): Map<string, VariableValue> {
  const best = new Map<string, { value: VariableValue; rank: number }>();
  for (const value of values) {
    const rank = specificity(value.scope, ctx);
    if (rank < 0) continue;
    const key = value.name.toLowerCase();
    const current = best.get(key);
    if (!current || rank >= current.rank) best.set(key, { value, rank });
  }
  return new Map([...best.values()].map(({ value }) => [value.name, value]));
}
