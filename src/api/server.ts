import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { ApiContext } from './context.js';
import { installAuth } from './auth.js';
import { installErrorHandling } from './errors.js';
import { rootRoutes } from './routes/root.js';
import { nodeRoutes } from './routes/nodes.js';
import { userRoutes } from './routes/users.js';
import { portalRoutes } from './routes/portal.js';
import { taskRoutes } from './routes/tasks.js';
import { artifactRoutes } from './routes/artifacts.js';

export function buildServer(ctx: ApiContext): FastifyInstance {
  const app: FastifyInstance = Fastify({
    // Requests are not logged one by one (the LB pings every few seconds); errors are.
    loggerInstance: ctx.log.child({ part: 'http' }, { level: 'warn' }) as unknown as FastifyBaseLogger,
    bodyLimit: 1024 * 1024,
    // Types are checked, never coerced: "5" is not a task cap.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: true } },
    return503OnClosing: true,
    // Live log streams would otherwise hold a stopping node open until their tasks end.
    forceCloseConnections: true,
  });
  app.addHook('onRequest', async (_req, reply) => {
    void reply.header('Octopus-Node', ctx.nodeName);
  });
  installErrorHandling(app);
  installAuth(app, ctx);
  rootRoutes(app, ctx);
  nodeRoutes(app, ctx);
  userRoutes(app, ctx);
  taskRoutes(app, ctx);
  artifactRoutes(app, ctx);
  portalRoutes(app, ctx);
  return app;
}
