import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ConflictError, InputError, NotFoundError } from '../../errors.js';
import { withTransaction } from '../../db/pool.js';
import { getTask, insertTask, listTasks, requestCancel, type NewTask } from '../../tasks/queries.js';
import { TASK_STATES, TASK_TYPES, FINAL_STATES, type TaskRow, type TaskType } from '../../tasks/types.js';
import { taskResource } from '../../tasks/present.js';
import { intParam, listParam, stringParam } from '../query.js';
import { requireAdmin } from '../auth.js';
import { collection } from '../resources.js';
import type { ApiContext } from '../context.js';

export const DEFAULT_SPACE = 'Spaces-1';

/** Space-scoped routes exist under /api/{spaceId}/…; only the default space exists so far. */
export function spaceOf(req: FastifyRequest): string | undefined {
  const s = (req.params as { spaceId?: string }).spaceId;
  if (s === undefined) return undefined;
  if (s !== DEFAULT_SPACE) throw new NotFoundError(`There is no space ${s}; the default space is ${DEFAULT_SPACE}.`);
  return s;
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

const MAX_SCRIPT = 1024 * 1024;

/** Validates a task request into what is stored; every problem named in one 400. */
export function validateNewTask(body: Record<string, unknown>, space: string, user: string | null): NewTask {
  const name = body.Name as string;
  if (!Object.hasOwn(TASK_TYPES, name)) {
    throw new InputError(`Tasks of type "${name}" cannot be queued here; use one of ${Object.keys(TASK_TYPES).join(', ')}.`);
  }
  const args = (body.Arguments ?? {}) as Record<string, unknown>;
  const errors: string[] = [];
  let timeoutSeconds: number | null = null;
  const stored: Record<string, unknown> = {};
  if (name === 'AdHocScript') {
    const script = args.ScriptBody;
    if (typeof script !== 'string' || script.trim() === '') errors.push('Arguments.ScriptBody must be a non-empty string holding the script.');
    else if (Buffer.byteLength(script) > MAX_SCRIPT) errors.push('Arguments.ScriptBody is larger than 1 MiB.');
    const syntax = args.Syntax ?? 'Bash';
    if (syntax !== 'Bash') errors.push(`Arguments.Syntax "${String(syntax)}" is not supported; this server runs Bash scripts, so set Syntax to "Bash".`);
    stored.ScriptBody = script;
    stored.Syntax = 'Bash';
    timeoutSeconds = 3600;
  }
  if (args.TimeoutSeconds !== undefined) {
    const t = args.TimeoutSeconds;
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 1 || t > 7 * 86400) errors.push('Arguments.TimeoutSeconds must be a whole number of seconds from 1 to 604800.');
    else { timeoutSeconds = t; stored.TimeoutSeconds = t; }
  }
  for (const [k, v] of Object.entries(args)) if (!(k in stored) && k !== 'TimeoutSeconds') stored[k] = v;
  if (body.SpaceId !== undefined && body.SpaceId !== space) errors.push(`SpaceId "${String(body.SpaceId)}" does not match the space of the route (${space}).`);
  if (errors.length) throw new InputError('There was a problem with your request.', errors);
  return {
    spaceId: space,
    name,
    description: typeof body.Description === 'string' && body.Description ? body.Description : TASK_TYPES[name as TaskType].description,
    arguments: stored,
    retryOnNodeFailure: body.RetryOnNodeFailure === true,
    concurrencyTag: typeof body.ConcurrencyTag === 'string' && body.ConcurrencyTag ? body.ConcurrencyTag : null,
    timeoutSeconds,
    createdBy: user,
  };
}

export async function taskOr404(ctx: ApiContext, req: FastifyRequest): Promise<TaskRow> {
  const id = (req.params as { id: string }).id;
  const space = spaceOf(req);
  const t = /^ServerTasks-\d+$/.test(id) ? await getTask(ctx.pool, id) : undefined;
  if (!t || (space && t.spaceId !== space)) throw new NotFoundError(`There is no task ${id}.`);
  return t;
}

export function taskRoutes(app: FastifyInstance, ctx: ApiContext): void {
  for (const prefix of PREFIXES) {
    app.get(`${prefix}/tasks`, async (req) => {
      const space = spaceOf(req);
      const skip = intParam(req.query, 'skip', 0);
      const take = intParam(req.query, 'take', 30, 0, 1000);
      const states = listParam(req.query, 'states');
      const bad = states.filter((s) => !(TASK_STATES as readonly string[]).includes(s));
      if (bad.length) throw new InputError(`Unknown task state(s) ${bad.join(', ')}; use ${TASK_STATES.join(', ')}.`);
      const spaces = space ? [space] : listParam(req.query, 'spaces');
      const r = await listTasks(ctx.pool, {
        skip, take, states, ids: listParam(req.query, 'ids'), spaces,
        ...(stringParam(req.query, 'node') ? { node: stringParam(req.query, 'node')! } : {}),
        ...(stringParam(req.query, 'name') ? { name: stringParam(req.query, 'name')! } : {}),
      });
      return collection('Task', r.items.map(taskResource), skip, take, r.total, `${space ? `/api/${space}` : '/api'}/tasks`);
    });

    app.get(`${prefix}/tasks/tasktypes`, async (req) => {
      spaceOf(req);
      return Object.entries(TASK_TYPES).map(([id, t]) => ({ Id: id, Name: id, Description: t.description }));
    });

    app.post(`${prefix}/tasks`, { schema: { body: createBody } }, async (req, reply) => {
      const space = spaceOf(req) ?? ((req.body as { SpaceId?: string }).SpaceId ?? DEFAULT_SPACE);
      if (space !== DEFAULT_SPACE) throw new NotFoundError(`There is no space ${space}; the default space is ${DEFAULT_SPACE}.`);
      const t = validateNewTask(req.body as Record<string, unknown>, space, req.user?.id ?? null);
      // Running arbitrary scripts on the server is an administrator's right, as in Octopus.
      if (t.name === 'AdHocScript') requireAdmin(req);
      const task = await withTransaction(ctx.pool, (c) => insertTask(c, t));
      return reply.code(201).send(taskResource(task));
    });

    app.get(`${prefix}/tasks/:id`, async (req) => taskResource(await taskOr404(ctx, req)));

    app.post(`${prefix}/tasks/:id/cancel`, async (req) => {
      const t = await taskOr404(ctx, req);
      const after = await requestCancel(ctx.pool, t.id);
      if (after) return taskResource(after);
      const now = (await getTask(ctx.pool, t.id))!;
      if (now.state === 'Cancelling') return taskResource(now);
      throw new ConflictError(`Task ${t.id} has already finished (${now.state}); there is nothing to cancel.`);
    });

    app.post(`${prefix}/tasks/rerun/:id`, async (req, reply) => {
      const t = await taskOr404(ctx, req);
      if (!FINAL_STATES.includes(t.state)) throw new ConflictError(`Task ${t.id} is still ${t.state}; only a finished task can be re-run.`);
      if (t.name === 'AdHocScript') requireAdmin(req);
      const task = await withTransaction(ctx.pool, (c) => insertTask(c, {
        spaceId: t.spaceId, name: t.name, description: t.description, arguments: t.arguments,
        retryOnNodeFailure: t.retryOnNodeFailure, concurrencyTag: t.concurrencyTag, timeoutSeconds: t.timeoutSeconds,
        createdBy: req.user?.id ?? null,
      }));
      return reply.code(201).send(taskResource(task));
    });
  }
}

