import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ConflictError, InputError, NotFoundError } from '../../errors.js';
import { getTask, insertTask, listTasks, requestCancel, type NewTask } from '../../tasks/queries.js';
import { TASK_STATES, FINAL_STATES, type TaskRow } from '../../tasks/types.js';
import type { ParsedArguments, TaskPermissions, TaskRegistry } from '../../tasks/handler.js';
import { hasPermission, type Permission } from '../../auth/permissions.js';
import { taskResource } from '../../tasks/present.js';
import { intParam, listParam, stringParam } from '../query.js';
import { requirePermission } from '../auth.js';
import { collection } from '../resources.js';
import { getSpace } from '../../deploy/spaces.js';
import { deploymentTagPatterns } from '../../deploy/deployments.js';
import type { ApiContext } from '../context.js';

export const DEFAULT_SPACE = 'Spaces-1';

/** The space of a route under /api/{spaceId}/… (any existing space; 404 naming one there is not), undefined on /api/…. */
export async function spaceOf(ctx: ApiContext, req: FastifyRequest): Promise<string | undefined> {
  const s = (req.params as { spaceId?: string }).spaceId;
  if (s === undefined) return undefined;
  return (await getSpace(ctx.pool, s)).id;
}

export const PREFIXES = ['/api', '/api/:spaceId'] as const;

const createBody = {
  type: 'object',
  required: ['Name'],
  properties: {
    Name: { type: 'string', minLength: 1, maxLength: 200 },
    Description: { type: 'string', maxLength: 2000 },
    SpaceId: { type: 'string', maxLength: 100 },
    Arguments: { type: 'object' },
    RetryOnNodeFailure: { type: 'boolean' },
    ConcurrencyTag: { type: ['string', 'null'], maxLength: 500 },
  },
} as const;

/** Validates a task request through its handler into what is stored; every problem named in one 400. */
export function validateNewTask(registry: TaskRegistry, body: Record<string, unknown>, space: string, user: string | null): NewTask {
  const name = body.Name as string;
  const handler = registry.require(name);
  if (handler.queuedBy) throw new InputError(`Tasks of type ${name} are not queued through this route; use ${handler.queuedBy}.`);
  const errors: string[] = [];
  let parsed: ParsedArguments<Record<string, unknown>> | undefined;
  try {
    parsed = registry.parseArguments(name, body.Arguments ?? {});
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    errors.push(...(err.details.length ? err.details : [err.message]));
  }
  if (body.SpaceId !== undefined && body.SpaceId !== space) errors.push(`SpaceId ${JSON.stringify(body.SpaceId)} does not match the space of the route (${space}).`);
  if (errors.length || !parsed) throw new InputError('There was a problem with your request.', errors);
  return {
    spaceId: space,
    name,
    description: typeof body.Description === 'string' && body.Description ? body.Description : handler.description,
    arguments: parsed.arguments,
    // Recovery re-queues what the caller asked to be retried and what its handler says is safe to run again.
    retryOnNodeFailure: body.RetryOnNodeFailure === true || handler.safeToRerun,
    concurrencyTag: typeof body.ConcurrencyTag === 'string' && body.ConcurrencyTag ? body.ConcurrencyTag : null,
    timeoutSeconds: parsed.timeoutSeconds ?? null,
    createdBy: user,
  };
}

/** The permission a task operation needs; a type this node does not know needs an administrator. */
function permissionFor(ctx: ApiContext, name: string, op: keyof TaskPermissions): Permission {
  return ctx.registry.get(name)?.permissions[op] ?? 'AdministerSystem';
}

/** Whether the caller may see tasks of this type (and their logs and artifacts). */
export function mayViewTask(ctx: ApiContext, req: FastifyRequest, name: string): boolean {
  return hasPermission(req.user, permissionFor(ctx, name, 'view'));
}

/** The task types the caller may view, for a list's WHERE; undefined when they may view every task. */
export function viewableTaskTypes(ctx: ApiContext, req: FastifyRequest): string[] | undefined {
  const handlers = ctx.registry.list();
  const viewable = handlers.filter((h) => hasPermission(req.user, h.permissions.view)).map((h) => h.name);
  // An explicit list for everyone else, even when it names every type this node knows: a task
  // of a type only a newer node knows is not theirs to see (taskOr404 agrees).
  return hasPermission(req.user, 'AdministerSystem') ? undefined : viewable;
}

/** The task named by the route, when the caller may see it (a task they may not see is not there). */
export async function taskOr404(ctx: ApiContext, req: FastifyRequest): Promise<TaskRow> {
  const id = (req.params as { id: string }).id;
  const space = await spaceOf(ctx, req);
  const t = /^ServerTasks-\d+$/.test(id) ? await getTask(ctx.pool, id) : undefined;
  if (!t || (space && t.spaceId !== space) || !mayViewTask(ctx, req, t.name)) throw new NotFoundError(`There is no task ${id}.`);
  return t;
}

/**
 * Octopus's `project` and `environment` filters (comma lists of ids): the deployment tasks of
 * those projects and to those environments. Ids are checked for shape; an unknown one matches nothing.
 */
function deploymentFilter(query: unknown): { tagPatterns?: string[] } {
  const lists = { project: listParam(query, 'project'), environment: listParam(query, 'environment') };
  for (const [name, ids] of Object.entries(lists)) {
    if (ids.length > 100) throw new InputError(`The query parameter ${name} names ${ids.length} ids; give at most 100.`);
    const bad = ids.find((id) => id.length > 200 || !/^[A-Za-z0-9_.-]+$/.test(id));
    if (bad !== undefined) throw new InputError(`The query parameter ${name} has "${bad.slice(0, 60)}", which is not ${name === 'project' ? 'a project' : 'an environment'} id (such as ${name === 'project' ? 'Projects-1' : 'Environments-1'}).`);
  }
  const tagPatterns = deploymentTagPatterns(lists.project, lists.environment);
  return tagPatterns.length ? { tagPatterns } : {};
}

export function taskRoutes(app: FastifyInstance, ctx: ApiContext): void {
  for (const prefix of PREFIXES) {
    app.get(`${prefix}/tasks`, async (req) => {
      requirePermission(req, 'TaskView');
      const space = await spaceOf(ctx, req);
      const skip = intParam(req.query, 'skip', 0);
      const take = intParam(req.query, 'take', 30, 0, 1000);
      const states = listParam(req.query, 'states');
      const bad = states.filter((s) => !(TASK_STATES as readonly string[]).includes(s));
      if (bad.length) throw new InputError(`Unknown task state(s) ${bad.join(', ')}; use ${TASK_STATES.join(', ')}.`);
      const spaces = space ? [space] : listParam(req.query, 'spaces');
      // Only the task types the caller may view, filtered in SQL so the totals count what is shown.
      const types = viewableTaskTypes(ctx, req);
      const r = await listTasks(ctx.pool, {
        skip, take, states, ids: listParam(req.query, 'ids'), spaces,
        ...(types ? { types } : {}),
        ...(stringParam(req.query, 'node') ? { node: stringParam(req.query, 'node')! } : {}),
        ...(stringParam(req.query, 'name') ? { name: stringParam(req.query, 'name')! } : {}),
        ...deploymentFilter(req.query),
      });
      return collection('Task', r.items.map(taskResource), skip, take, r.total, `${space ? `/api/${space}` : '/api'}/tasks`);
    });

    app.get(`${prefix}/tasks/tasktypes`, async (req, reply) => {
      requirePermission(req, 'TaskView');
      await spaceOf(ctx, req);
      return reply.send(ctx.registry.list().map((h) => ({ Id: h.name, Name: h.name, Description: h.description })));
    });

    app.post(`${prefix}/tasks`, { schema: { body: createBody } }, async (req, reply) => {
      // Permission first: a caller who may not queue this type learns nothing about spaces.
      requirePermission(req, ctx.registry.require((req.body as { Name: string }).Name).permissions.queue);
      const space = (await spaceOf(ctx, req)) ?? ((req.body as { SpaceId?: string }).SpaceId ?? DEFAULT_SPACE);
      if (space !== DEFAULT_SPACE) {
        const known = await getSpace(ctx.pool, space);
        // Tasks of other spaces come from their deployments (which keep to the space's queue rules).
        throw new InputError(`Tasks are queued through this route in the default space ${DEFAULT_SPACE} only; the tasks of space ${known.id} (${known.name}) come from its deployments.`);
      }
      const t = validateNewTask(ctx.registry, req.body as Record<string, unknown>, space, req.user?.id ?? null);
      const task = await insertTask(ctx.pool, t);
      return reply.code(201).send(taskResource(task));
    });

    app.get(`${prefix}/tasks/:id`, async (req) => taskResource(await taskOr404(ctx, req)));

    app.post(`${prefix}/tasks/:id/cancel`, async (req) => {
      const t = await taskOr404(ctx, req);
      requirePermission(req, permissionFor(ctx, t.name, 'cancel'));
      const after = await requestCancel(ctx.pool, t.id);
      if (after) return taskResource(after);
      const now = (await getTask(ctx.pool, t.id))!;
      if (now.state === 'Cancelling') return taskResource(now);
      throw new ConflictError(`Task ${t.id} has already finished (${now.state}); there is nothing to cancel.`);
    });

    app.post(`${prefix}/tasks/rerun/:id`, async (req, reply) => {
      const t = await taskOr404(ctx, req);
      if (!FINAL_STATES.includes(t.state)) throw new ConflictError(`Task ${t.id} is still ${t.state}; only a finished task can be re-run.`);
      requirePermission(req, permissionFor(ctx, t.name, 'rerun'));
      const queuedBy = ctx.registry.get(t.name)?.queuedBy;
      if (queuedBy) throw new InputError(`A ${t.name} task is not re-run through this route; queue a new one with ${queuedBy}.`);
      const task = await insertTask(ctx.pool, {
        spaceId: t.spaceId, name: t.name, description: t.description, arguments: t.arguments,
        retryOnNodeFailure: t.retryOnNodeFailure, concurrencyTag: t.concurrencyTag, timeoutSeconds: t.timeoutSeconds,
        createdBy: req.user?.id ?? null,
      });
      return reply.code(201).send(taskResource(task));
    });
  }
}

