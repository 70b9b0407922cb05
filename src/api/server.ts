import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import type { ApiContext } from './context.js';
import { installAuth } from './auth.js';
import { errorBody, installErrorHandling } from './errors.js';
import { clientErrorHandler, installJsonParser, installResponseHeaders } from './http.js';
import { EnvironmentError } from '../errors.js';
import { rootRoutes } from './routes/root.js';
import { nodeRoutes } from './routes/nodes.js';
import { userRoutes } from './routes/users.js';
import { portalRoutes } from './routes/portal.js';
import { configurationRoutes } from './routes/configuration.js';
import { dashboardRoutes } from './routes/dashboard.js';
import { taskRoutes } from './routes/tasks.js';
import { artifactRoutes } from './routes/artifacts.js';
import { taskLogRoutes } from './routes/taskLogs.js';
import { spaceRoutes } from './routes/spaces.js';
import { environmentRoutes } from './routes/environments.js';
import { lifecycleRoutes } from './routes/lifecycles.js';
import { projectGroupRoutes } from './routes/projectGroups.js';
import { projectRoutes } from './routes/projects.js';
import { eventRoutes } from './routes/events.js';
import { releaseRoutes } from './routes/releases.js';
import { feedRoutes } from './routes/feeds.js';
import { packageRoutes } from './routes/packages.js';
import { metricsRoutes } from './routes/metrics.js';

export function buildServer(ctx: ApiContext): FastifyInstance {
  const app: FastifyInstance = Fastify({
    // Requests are not logged one by one (the LB pings every few seconds); errors are.
    loggerInstance: ctx.log.child({ part: 'http' }, { level: 'warn' }) as unknown as FastifyBaseLogger,
    bodyLimit: 1024 * 1024,
    // Types are checked, never coerced: "5" is not a task cap.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: true } },
    // Fastify's own closing answer is not Octopus's body: the onRequest hook below answers instead.
    return503OnClosing: false,
    // Long ids reach the routes, whose schemas answer them in the Octopus error body.
    routerOptions: { maxParamLength: 2048 },
    // Errors Fastify raises before any hook (a badly encoded URL) get the same body and header.
    frameworkErrors: (err, _req, reply) => {
      const r = reply as unknown as FastifyReply;
      void r.code(400).header('Octopus-Node', ctx.nodeName).type('application/json').send(errorBody(`The request URL cannot be understood (${err.message}).`));
    },
    // Requests Node cannot parse (431, a malformed request line) get a proper answer in Octopus's body.
    clientErrorHandler: clientErrorHandler(ctx.nodeName),
    // Live log streams would otherwise hold a stopping node open until their tasks end.
    forceCloseConnections: true,
  });
  installResponseHeaders(app, ctx.nodeName);
  let closing = false;
  app.addHook('preClose', (done) => { closing = true; done(); });
  app.addHook('onRequest', async (_req, reply) => {
    void reply.header('Octopus-Node', ctx.nodeName);
    // A request that arrives on a kept-alive connection while the node stops: send it elsewhere.
    if (closing) throw new EnvironmentError('This node is stopping; send the request to another node of the cluster.');
  });
  installErrorHandling(app);
  installJsonParser(app);
  installAuth(app, ctx);
  metricsRoutes(app, ctx);
  rootRoutes(app, ctx);
  nodeRoutes(app, ctx);
  userRoutes(app, ctx);
  taskRoutes(app, ctx);
  taskLogRoutes(app, ctx);
  artifactRoutes(app, ctx);
  spaceRoutes(app, ctx);
  environmentRoutes(app, ctx);
  lifecycleRoutes(app, ctx);
  projectGroupRoutes(app, ctx);
  projectRoutes(app, ctx);
  eventRoutes(app, ctx);
  releaseRoutes(app, ctx);
  feedRoutes(app, ctx);
  packageRoutes(app, ctx);
  configurationRoutes(app, ctx);
  dashboardRoutes(app, ctx);
  portalRoutes(app, ctx);
  return app;
}
