import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ForbiddenError, UnauthorizedError } from '../errors.js';
import { getUser, userByApiKey } from '../auth/users.js';
import { SESSION_COOKIE, sessionUserId } from '../auth/sessions.js';
import type { ApiContext } from './context.js';
import { AUTH_CHANNEL, CredentialCache } from '../auth/cache.js';
import { hashApiKey } from '../crypto/secrets.js';
import { hasPermission, type Permission } from '../auth/permissions.js';

/** The routes anyone may call (SPEC.md §5): the root document, the health ping, login and the portal's files. */
const PUBLIC_ROUTES = new Set(['GET /api', 'GET /api/octopusservernodes/ping', 'HEAD /api/octopusservernodes/ping', 'POST /api/users/login', 'GET /', 'HEAD /', 'GET /app', 'HEAD /app']);

/**
 * Decided from the route Fastify actually matched, never from the raw URL: the router decodes
 * percent-escapes, so `/%61pi/tasks` reaches the `/api/tasks` route. A request that matched no
 * route is public only when its decoded path is outside the API (the portal's missing files).
 */
function isPublic(req: FastifyRequest): boolean {
  const route = req.routeOptions.url;
  if (route !== undefined) return PUBLIC_ROUTES.has(`${req.method} ${route}`);
  let path: string;
  try {
    path = decodeURIComponent(req.url.split('?')[0] ?? '').toLowerCase();
  } catch {
    return false;
  }
  return !/^\/+api(\/|$)/.test(path);
}

export function cookieValue(req: FastifyRequest, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined; // a malformed cookie is no cookie
      }
    }
  }
  return undefined;
}

export function installAuth(app: FastifyInstance, ctx: ApiContext): void {
  const cache = new CredentialCache();
  ctx.notifications.on('notify', (channel: string) => { if (channel === AUTH_CHANNEL) cache.clear(); });
  ctx.notifications.on('reconnected', () => cache.clear());
  app.addHook('onRequest', async (req) => {
    const apiKey = req.headers['x-octopus-apikey'];
    const query = req.query as Record<string, unknown> | undefined;
    const key = typeof apiKey === 'string' ? apiKey : typeof query?.apikey === 'string' ? query.apikey : undefined;
    if (key) {
      // Keyed by the key's hash: the cache never holds a usable secret.
      const id = hashApiKey(key);
      req.user = cache.get(id) ?? await userByApiKey(ctx.pool, key);
      if (req.user) cache.set(id, req.user);
    } else {
      const token = cookieValue(req, SESSION_COOKIE);
      if (token) {
        // Sessions are looked up every time: a logout must end them on every node at once.
        const userId = await sessionUserId(ctx.pool, ctx.key, token);
        if (userId) {
          req.user = await getUser(ctx.pool, userId);
          // Cookie sessions only change state through JSON requests: a cross-site form cannot send those.
          const ct = req.headers['content-type'] ?? '';
          if (req.user && !['GET', 'HEAD', 'OPTIONS'].includes(req.method) && req.headers['content-length'] !== '0'
              && req.headers['content-length'] !== undefined && !ct.startsWith('application/json')) {
            throw new ForbiddenError('Requests signed in with a session cookie must send application/json.');
          }
        }
      }
    }
    if (!req.user && !isPublic(req)) {
      throw new UnauthorizedError('You must be signed in, or send an API key in the X-Octopus-ApiKey header.');
    }
  });
}

export function requireAdmin(req: FastifyRequest): void {
  if (!req.user?.isAdmin) throw new ForbiddenError('Only administrators may do this; sign in as an administrator.');
}

/** Refuses (403) a caller who lacks the permission, naming it. */
export function requirePermission(req: FastifyRequest, permission: Permission): void {
  if (hasPermission(req.user, permission)) return;
  if (permission === 'AdministerSystem') throw new ForbiddenError('Only administrators may do this; sign in as an administrator.');
  throw new ForbiddenError(`You need the ${permission} permission to do this; ask an administrator to grant it.`);
}
