import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ForbiddenError, UnauthorizedError } from '../errors.js';
import { userByApiKey } from '../auth/users.js';
import { CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE, csrfTokenMatches, sessionIdFromToken, sessionUser } from '../auth/sessions.js';
import type { ApiContext } from './context.js';
import { AUTH_CHANNEL, CredentialCache } from '../auth/cache.js';
import { hashApiKey } from '../crypto/secrets.js';
import { hasPermission, type Permission } from '../auth/permissions.js';

/** The routes anyone may call (SPEC.md §5): the root document, the health ping, login and the portal's files. */
const PUBLIC_ROUTES = new Set(['GET /api', 'GET /api/octopusservernodes/ping', 'HEAD /api/octopusservernodes/ping', 'POST /api/users/login', 'GET /', 'HEAD /', 'GET /app', 'HEAD /app',
  // Decides itself: administrators, or an unauthenticated scraper from an address the cluster allows.
  'GET /metrics']);

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

declare module 'fastify' {
  interface FastifyRequest {
    /** Set when the caller signed in with the session cookie (not an API key): that session's id. */
    sessionId?: string;
  }
}

/** Methods that change nothing, so a forged cross-site request gains nothing by them. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Whether the request reached us over HTTPS, directly or through a proxy that says so
 * (X-Forwarded-Proto or Forwarded). Believing a client's header here can only make its cookies stricter.
 */
export function cameOverHttps(req: FastifyRequest): boolean {
  if (req.protocol === 'https') return true;
  const first = header(req, 'x-forwarded-proto')?.split(',')[0]?.trim().toLowerCase();
  if (first === 'https') return true;
  // Forwarded: for=…;proto=https, … — the first element is what the client sent to the first proxy.
  const element = header(req, 'forwarded')?.split(',')[0] ?? '';
  return element.split(';').some((pair: string) => pair.trim().toLowerCase().replace(/"/g, '') === 'proto=https');
}

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name.toLowerCase()];
  return typeof v === 'string' ? v : undefined;
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
        // Sessions are looked up every time: a logout or a deactivation must end them on every node at once.
        req.user = await sessionUser(ctx.pool, ctx.key, token);
        if (req.user) {
          req.sessionId = sessionIdFromToken(ctx.key, token);
          // A cross-site page can make the browser send the cookie, but cannot read the anti-forgery
          // cookie to echo it: every change made with the session carries it, whatever its body.
          // (Signing in again needs none: that request authenticates by its password.)
          if (!SAFE_METHODS.has(req.method) && req.routeOptions.url !== '/api/users/login') {
            const given = header(req, CSRF_HEADER);
            if (!given || !csrfTokenMatches(ctx.key, token, given)) {
              throw new ForbiddenError(`This request was signed in with the session cookie but its ${CSRF_HEADER} header is missing or wrong; send the value of the ${CSRF_COOKIE} cookie in that header (sign in again if the cookie is gone), or use an API key.`);
            }
          }
        }
      }
    }
    if (!req.user && !isPublic(req)) {
      throw new UnauthorizedError('You must be signed in, or send an API key in the X-Octopus-ApiKey header.');
    }
  });
}

/** Refuses (403) a caller who lacks the permission, naming it. The one place a route asks. */
export function requirePermission(req: FastifyRequest, permission: Permission): void {
  if (hasPermission(req.user, permission)) return;
  if (permission === 'AdministerSystem') throw new ForbiddenError('Only administrators may do this; sign in as an administrator.');
  throw new ForbiddenError(`You need the ${permission} permission to do this; ask an administrator to grant it.`);
}
