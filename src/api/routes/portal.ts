import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context.js';

const INDEX = readFileSync(new URL('../../../../web/index.html', import.meta.url), 'utf8');

/** The portal's entry page; every node serves it, no sticky sessions needed. */
export function portalRoutes(app: FastifyInstance, _ctx: ApiContext): void {
  app.get('/', async (_req, reply) => reply.type('text/html; charset=utf-8').send(INDEX));
  app.get('/app', async (_req, reply) => reply.redirect('/'));
}
