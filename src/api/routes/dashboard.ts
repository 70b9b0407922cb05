// GET /api/{spaceId}/dashboard (and /api/dashboard for the default space): Octopus's dashboard.
import type { FastifyInstance } from 'fastify';
import { dashboard } from '../../deploy/dashboard.js';
import { requirePermission } from '../auth.js';
import type { ApiContext } from '../context.js';
import { spaceOfRequest } from '../spaceScope.js';

export function dashboardRoutes(app: FastifyInstance, ctx: ApiContext): void {
  for (const prefix of ['/api/:spaceId', '/api']) {
    app.get(`${prefix}/dashboard`, async (req) => {
      requirePermission(req, 'DeploymentView');
      return dashboard(ctx.pool, await spaceOfRequest(ctx, req));
    });
  }
}
