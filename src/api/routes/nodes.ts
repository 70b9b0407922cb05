import type { FastifyInstance } from 'fastify';
import { ConflictError, NotFoundError } from '../../errors.js';
import { deleteNode, getNode, listNodes, updateNode } from '../../cluster/nodes.js';
import { withinMs } from '../../db/pool.js';
import { requirePermission } from '../auth.js';
import { intParam } from '../query.js';
import { collection, nodeResource, nodeSummaryResource } from '../resources.js';
import type { ApiContext } from '../context.js';

/** How long the ping waits for the database before answering 503 (load balancers time out checks in 2-5 s). */
const PING_DATABASE_MS = 2_000;

const idParam = { type: 'object', properties: { id: { type: 'string', minLength: 1, maxLength: 200 } }, required: ['id'] } as const;

export function nodeRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const threshold = ctx.options.offlineThresholdMs;

  app.get('/api/octopusservernodes/ping', async (_req, reply) => {
    // Bounded: a load balancer's check must get its 503 in time even when the database hangs.
    const self = await withinMs(getNode(ctx.pool, ctx.nodeId, threshold), PING_DATABASE_MS, 'the ping');
    if (!self) throw new NotFoundError('This node is not registered.');
    // 418 tells the load balancer to route no new traffic here while the node drains.
    const status = !ctx.ready() || !ctx.healthy() ? 503 : self.drain ? 418 : 200;
    return reply.code(status).send(nodeResource(self));
  });

  app.get('/api/octopusservernodes', async (req) => {
    const skip = intParam(req.query, 'skip', 0);
    const take = intParam(req.query, 'take', 30, 0, 10_000);
    const all = await listNodes(ctx.pool, threshold);
    return collection('OctopusServerNode', all.slice(skip, skip + take).map(nodeResource), skip, take, all.length, '/api/octopusservernodes');
  });

  app.get('/api/octopusservernodes/all', async () => (await listNodes(ctx.pool, threshold)).map(nodeResource));

  app.get('/api/octopusservernodes/summary', async () => {
    const all = await listNodes(ctx.pool, threshold);
    return { Nodes: all.map((n) => nodeSummaryResource(n, all)), Links: { Self: '/api/octopusservernodes/summary' } };
  });

  app.get('/api/octopusservernodes/:id', { schema: { params: idParam } }, async (req) => {
    const n = await getNode(ctx.pool, (req.params as { id: string }).id, threshold);
    if (!n) throw new NotFoundError(`There is no node ${(req.params as { id: string }).id}.`);
    return nodeResource(n);
  });

  app.get('/api/octopusservernodes/:id/details', { schema: { params: idParam } }, async (req) => {
    const all = await listNodes(ctx.pool, threshold);
    const id = (req.params as { id: string }).id;
    const n = all.find((x) => x.id === id || x.name === id);
    if (!n) throw new NotFoundError(`There is no node ${id}.`);
    return { ...nodeSummaryResource(n, all), RunningTasks: n.runningTasks, Epoch: n.epoch, StorageReport: n.storageReport };
  });

  app.put('/api/octopusservernodes/:id', {
    schema: {
      params: idParam,
      body: {
        type: 'object',
        properties: {
          MaxConcurrentTasks: { type: 'integer', minimum: 0, maximum: 1000 },
          IsInMaintenanceMode: { type: 'boolean' },
        },
      },
    },
  }, async (req) => {
    requirePermission(req, 'AdministerSystem');
    const id = (req.params as { id: string }).id;
    const body = req.body as { MaxConcurrentTasks?: number; IsInMaintenanceMode?: boolean };
    const changed = await updateNode(ctx.pool, id, { maxConcurrentTasks: body.MaxConcurrentTasks, drain: body.IsInMaintenanceMode });
    if (!changed) throw new NotFoundError(`There is no node ${id}.`);
    const n = await getNode(ctx.pool, id, threshold);
    return nodeResource(n!);
  });

  app.delete('/api/octopusservernodes/:id', { schema: { params: idParam } }, async (req, reply) => {
    requirePermission(req, 'AdministerSystem');
    const id = (req.params as { id: string }).id;
    const n = await getNode(ctx.pool, id, threshold);
    if (!n) throw new NotFoundError(`There is no node ${id}.`);
    if (n.online) throw new ConflictError(`Node ${n.name} is online; only offline nodes can be deleted, so stop it first.`);
    await deleteNode(ctx.pool, n.id);
    return reply.code(200).send({});
  });
}
