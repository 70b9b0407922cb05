import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import type { ApiContext } from './context.js';
import { installAuth } from './auth.js';
import { installErrorHandling } from './errors.js';
import { rootRoutes } from './routes/root.js';
import { nodeRoutes } from './routes/nodes.js';
import { userRoutes } from './routes/users.js';
import { portalRoutes } from './routes/portal.js';
import { taskRoutes } from './routes/tasks.js';
import { artifactRoutes } from './routes/artifacts.js';
import { taskLogRoutes } from './routes/taskLogs.js';

export function buildServer(ctx: ApiContext): FastifyInstance {
  const app: FastifyInstance = Fastify({
    // Requests are not logged one by one (the LB pings every few seconds); errors are.
    loggerInstance: ctx.log.child({ part: 'http' }, { level: 'warn' }) as unknown as FastifyBaseLogger,
    bodyLimit: 1024 * 1024,
    // Types are checked, never coerced: "5" is not a task cap.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: true } },
    return503OnClosing: true,
    // Long ids reach the routes, whose schemas answer them in the Octopus error body.
    routerOptions: { maxParamLength: 2048 },
    // Errors Fastify raises before any hook (a badly encoded URL) get the same body and header.
    frameworkErrors: (err, _req, reply) => {
      const msg = `The request URL cannot be understood (${err.message}).`;
      const r = reply as unknown as FastifyReply;
      void r.code(400).header('Octopus-Node', ctx.nodeName).type('application/json').send({ ErrorMessage: msg, Errors: [msg] });
    },
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
  taskLogRoutes(app, ctx);
  artifactRoutes(app, ctx);
  portalRoutes(app, ctx);
  return app;
}
