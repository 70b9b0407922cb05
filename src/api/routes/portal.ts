// The web portal (web/, built by Vite into web/dist): every node serves the same files, so a load
// balancer without sticky sessions can send each request anywhere. Content-hashed assets are
// cached for a year; the page itself is revalidated at every load; any other path outside the API
// answers with the page, so a deep link (/tasks/ServerTasks-7) survives a reload.
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ApiContext } from '../context.js';
import { errorBody } from '../errors.js';

const TYPES: Readonly<Record<string, string>> = {
  '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8', '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon',
  '.woff2': 'font/woff2', '.json': 'application/json', '.map': 'application/json', '.txt': 'text/plain; charset=utf-8',
};

// A name the build writes: letters, digits, dots, dashes and underscores, in at most one folder.
const SAFE_FILE = /^(?:assets\/)?[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}$/;

const NOT_BUILT = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Cuttle</title></head>
<body style="font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem">
<h1>Cuttle</h1><p>This node is running, but the web portal has not been built on it. Run <code>npm run build</code>
(or start the node with <code>npm start</code>, which builds it), then reload this page.</p>
<p>The REST API is at <a href="/api">/api</a>.</p></body></html>`;

/** The built portal's folder: web/dist beside the package, or CUTTLE_WEB_ROOT (a build elsewhere). */
export function portalRoot(): string {
  const fromEnv = process.env.CUTTLE_WEB_ROOT;
  return resolve(fromEnv && fromEnv.trim() ? fromEnv : fileURLToPath(new URL('../../../../web/dist/', import.meta.url)));
}

export function portalRoutes(app: FastifyInstance, _ctx: ApiContext): void {
  const root = portalRoot();
  let index: { body: Buffer; mtimeMs: number } | undefined;

  const sendIndex = async (reply: FastifyReply): Promise<FastifyReply> => {
    // Read again when the build changed it (a node started before its portal was built, or rebuilt, picks it up).
    const file = join(root, 'index.html');
    const st = await stat(file).catch(() => undefined);
    if (!st) index = undefined;
    else if (!index || index.mtimeMs !== st.mtimeMs) index = { body: await readFile(file), mtimeMs: st.mtimeMs };
    return reply.code(200).header('cache-control', 'no-cache').type('text/html; charset=utf-8').send(index?.body ?? NOT_BUILT);
  };

  const sendFile = async (req: FastifyRequest, reply: FastifyReply, name: string): Promise<FastifyReply | undefined> => {
    if (!SAFE_FILE.test(name) || name.includes('..')) return undefined;
    const path = join(root, name);
    if (!path.startsWith(root + sep)) return undefined;
    const st = await stat(path).catch(() => undefined);
    if (!st?.isFile()) return undefined;
    // Files under assets/ carry their content's hash in their names: they never change.
    void reply.header('cache-control', name.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'public, max-age=300');
    void reply.type(TYPES[extname(name).toLowerCase()] ?? 'application/octet-stream').header('content-length', st.size);
    return req.method === 'HEAD' ? reply.send() : reply.send(createReadStream(path));
  };

  app.get('/', async (_req, reply) => sendIndex(reply));
  app.get('/app', async (_req, reply) => reply.redirect('/'));

  /**
   * Every GET outside the API that matched no route: a file of the build, or else the page (the
   * portal's router reads the path). A missing asset is a 404, never the page in its place.
   */
  app.setNotFoundHandler(async (req, reply) => {
    let path: string;
    try {
      path = decodeURIComponent(req.url.split('?')[0] ?? '/');
    } catch {
      path = '';
    }
    const isApi = /^\/+api(\/|$)/i.test(path);
    if ((req.method === 'GET' || req.method === 'HEAD') && path && !isApi) {
      const name = path.replace(/^\/+/, '');
      const file = await sendFile(req, reply, name);
      if (file) return file;
      if (!name.startsWith('assets/') && !extname(name)) return sendIndex(reply);
    }
    return reply.code(404).type('application/json').send(errorBody(`There is no resource at ${req.method} ${req.url.split('?')[0]}.`));
  });
}
