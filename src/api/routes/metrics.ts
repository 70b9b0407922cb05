// GET /metrics: the node's Prometheus metrics. Administrators may read them (API key or session);
// a scraper without credentials only from an address the cluster setting `metrics.scrape_from` lists.
import type { FastifyInstance } from 'fastify';
import { getSetting } from '../../cluster/queries.js';
import { UnauthorizedError, errorMessage } from '../../errors.js';
import { SCRAPE_SETTING, parseScrapeFrom, scrapeAllowed } from '../../ops/access.js';
import { requirePermission } from '../auth.js';
import type { ApiContext } from '../context.js';

export function metricsRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const metrics = ctx.metrics;
  if (!metrics) return;
  app.addHook('onResponse', async (req, reply) => {
    metrics.request(req.method, req.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
  });
  app.get('/metrics', async (req, reply) => {
    if (req.user) {
      requirePermission(req, 'AdministerSystem');
    } else {
      let allowed = false;
      try {
        allowed = scrapeAllowed(parseScrapeFrom(await getSetting<unknown>(ctx.pool, SCRAPE_SETTING)), req.socket.remoteAddress);
      } catch (err) {
        ctx.log.warn({ err: errorMessage(err) }, 'the metrics scrape setting is not valid; only administrators may scrape');
      }
      if (!allowed) {
        throw new UnauthorizedError(`Metrics need an administrator's API key (X-Octopus-ApiKey), or an address listed in the cluster setting ${SCRAPE_SETTING} (\`cuttle setting ${SCRAPE_SETTING} '["${req.socket.remoteAddress ?? '10.0.0.0/8'}"]'\`).`);
      }
    }
    const text = await metrics.render();
    return reply.header('Cache-Control', 'no-store').type(metrics.contentType).send(text);
  });
}
