import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { InputError, NotFoundError, UnauthorizedError } from '../../errors.js';
import { addApiKey, getUser, listApiKeys, revokeApiKey, type User } from '../../auth/users.js';
import { createUser, deleteUser, listUsers, modifyUser, type Actor } from '../../auth/manage.js';
import { CSRF_COOKIE, SESSION_COOKIE, createSession, revokeSession } from '../../auth/sessions.js';
import { lockedMessage, signIn, signInPolicy } from '../../auth/signIn.js';
import type { Permission } from '../../auth/permissions.js';
import { cameOverHttps, cookieValue, requirePermission } from '../auth.js';
import { intParam, listParam, stringParam } from '../query.js';
import { collection } from '../resources.js';
import type { ApiContext } from '../context.js';
import { userInput, userResource } from './userDocuments.js';

/**
 * The session cookie (HttpOnly) and the anti-forgery cookie (readable by the portal's script, which
 * echoes it in X-Octopus-Csrf-Token); both Secure when the request came over HTTPS. No session clears both.
 */
function setSessionCookies(req: FastifyRequest, reply: FastifyReply, s: { token: string; csrfToken: string; expires: Date } | undefined): void {
  const tail = ['Path=/', 'SameSite=Lax', ...(cameOverHttps(req) ? ['Secure'] : []), s ? `Expires=${s.expires.toUTCString()}` : 'Max-Age=0'];
  void reply.header('set-cookie', [
    [`${SESSION_COOKIE}=${s ? encodeURIComponent(s.token) : ''}`, 'HttpOnly', ...tail].join('; '),
    [`${CSRF_COOKIE}=${s ? encodeURIComponent(s.csrfToken) : ''}`, ...tail].join('; '),
  ]);
}

const str = (max: number) => ({ type: 'string', minLength: 1, maxLength: max }) as const;
const idParam = { type: 'object', properties: { id: str(100) }, required: ['id'] } as const;
const keyParams = { type: 'object', properties: { id: str(100), keyId: str(100) }, required: ['id', 'keyId'] } as const;

function actorOf(req: FastifyRequest): Actor {
  return { user: req.user!, sessionId: req.sessionId ?? null };
}

/** Your own user needs no permission; anyone else's needs `permission`. `me` is you. */
function targetId(req: FastifyRequest, permission: Permission): string {
  const raw = (req.params as { id: string }).id;
  const id = raw === 'me' ? req.user!.id : raw;
  if (id !== req.user!.id) requirePermission(req, permission);
  return id;
}

/** A user changing themselves without UserEdit may change their name shown, email and password only. */
function refuseSelfPromotion(req: FastifyRequest, me: User, body: ReturnType<typeof userInput>): void {
  const changes = [
    body.username !== undefined && body.username !== me.username ? 'Username' : undefined,
    body.isActive !== undefined && body.isActive !== me.isActive ? 'IsActive' : undefined,
    body.isService !== undefined && body.isService !== me.isService ? 'IsService' : undefined,
  ].filter(Boolean);
  if (changes.length) requirePermission(req, 'UserEdit');
}

export function userRoutes(app: FastifyInstance, ctx: ApiContext): void {
  // Read once: a bad setting stops the node at start-up, naming the variable.
  const policy = signInPolicy();
  const log = ctx.log.child({ part: 'auth' });

  app.post('/api/users/login', {
    schema: {
      body: {
        type: 'object',
        required: ['Username', 'Password'],
        properties: { Username: str(200), Password: str(1024), RememberMe: { type: 'boolean' } },
      },
    },
  }, async (req, reply) => {
    const { Username, Password } = req.body as { Username: string; Password: string };
    const remote = { username: Username.toLowerCase(), remoteAddress: req.ip, forwardedFor: req.headers['x-forwarded-for'] };
    const r = await signIn(ctx.pool, policy, Username, Password, req.ip);
    if (r.kind === 'locked') {
      if (r.lockedNow) log.warn({ ...remote, lockedUntil: r.until }, 'sign-in locked: too many failed attempts in parallel');
      log.warn({ ...remote, lockedUntil: r.until }, 'sign-in refused: the user name is locked after repeated failures');
      void reply.header('retry-after', String(Math.max(1, Math.ceil((r.until.getTime() - Date.now()) / 1000))));
      // Octopus answers a lock-out with 400 and this sentence.
      throw new InputError(lockedMessage(r.until));
    }
    if (r.kind === 'failed') {
      if (r.lockedUntil) log.warn({ ...remote, failures: r.failures, lockedUntil: r.lockedUntil }, 'sign-in locked: too many failed attempts');
      else log.info({ ...remote, failures: r.failures }, 'sign-in failed');
      throw new UnauthorizedError('Invalid username or password.');
    }
    const s = await createSession(ctx.pool, ctx.key, r.user.id);
    setSessionCookies(req, reply, s);
    return userResource(r.user, r.user);
  });

  app.post('/api/users/logout', async (req, reply) => {
    const token = cookieValue(req, SESSION_COOKIE);
    if (token) await revokeSession(ctx.pool, ctx.key, token);
    setSessionCookies(req, reply, undefined);
    return {};
  });

  app.get('/api/users/me', (req) => userResource(req.user!, req.user));

  app.get('/api/users', async (req) => {
    requirePermission(req, 'UserView');
    const skip = intParam(req.query, 'skip', 0);
    const take = intParam(req.query, 'take', 30, 0, 1000);
    const filter = stringParam(req.query, 'filter');
    const r = await listUsers(ctx.pool, { skip, take, ids: listParam(req.query, 'ids'), ...(filter ? { filter } : {}) });
    return collection('User', r.items.map((u) => userResource(u, req.user)), skip, take, r.total, '/api/users');
  });

  app.get('/api/users/all', async (req) => {
    requirePermission(req, 'UserView');
    const r = await listUsers(ctx.pool, { skip: 0, take: 100_000, ids: listParam(req.query, 'ids') });
    return r.items.map((u) => userResource(u, req.user));
  });

  app.post('/api/users', async (req, reply) => {
    requirePermission(req, 'UserEdit');
    const u = await createUser(ctx.pool, userInput(req.body), actorOf(req));
    log.info({ user: u.username, by: req.user!.username }, 'user created');
    return reply.code(201).send(userResource(u, req.user));
  });

  app.get('/api/users/:id', { schema: { params: idParam } }, async (req) => {
    const id = targetId(req, 'UserView');
    const u = id === req.user!.id ? req.user : await getUser(ctx.pool, id);
    if (!u) throw new NotFoundError(`There is no user ${id}.`);
    return userResource(u, req.user);
  });

  app.put('/api/users/:id', { schema: { params: idParam } }, async (req) => {
    const id = targetId(req, 'UserEdit');
    const input = userInput(req.body);
    if (id === req.user!.id) refuseSelfPromotion(req, req.user!, input);
    const u = await modifyUser(ctx.pool, id, input, actorOf(req));
    log.info({ user: u.username, active: u.isActive, service: u.isService, passwordChanged: Boolean(input.password), by: req.user!.username }, 'user changed');
    return userResource(u, req.user);
  });

  app.delete('/api/users/:id', { schema: { params: idParam } }, async (req) => {
    requirePermission(req, 'UserEdit');
    const id = (req.params as { id: string }).id;
    await deleteUser(ctx.pool, id, actorOf(req));
    log.info({ user: id, by: req.user!.username }, 'user deleted');
    return {};
  });

  app.post('/api/users/:id/apikeys', {
    schema: {
      params: idParam,
      body: { type: 'object', required: ['Purpose'], properties: { Purpose: { type: 'string', maxLength: 500 } } },
    },
  }, async (req, reply) => {
    const id = targetId(req, 'UserEdit');
    if (!(await getUser(ctx.pool, id))) throw new NotFoundError(`There is no user ${id}.`);
    const k = await addApiKey(ctx.pool, id, (req.body as { Purpose: string }).Purpose);
    // The key itself is returned this once and never stored: only its hash is.
    return reply.code(201).send({
      Id: k.id, Purpose: k.purpose, UserId: id, ApiKey: k.apiKey, Created: k.created.toISOString(),
      Links: { Self: `/api/users/${id}/apikeys/${k.id}`, User: `/api/users/${id}` },
    });
  });

  app.get('/api/users/:id/apikeys', { schema: { params: idParam } }, async (req) => {
    const id = targetId(req, 'UserView');
    const keys = await listApiKeys(ctx.pool, id);
    const items = keys.map((k) => ({ Id: k.id, Purpose: k.purpose, UserId: id, Created: k.created.toISOString(), Links: { Self: `/api/users/${id}/apikeys/${k.id}` } }));
    return { ItemType: 'ApiKey', TotalResults: items.length, ItemsPerPage: items.length, NumberOfPages: 1, LastPageNumber: 0, Items: items, Links: {} };
  });

  app.delete('/api/users/:id/apikeys/:keyId', { schema: { params: keyParams } }, async (req) => {
    const id = targetId(req, 'UserEdit');
    const keyId = (req.params as { keyId: string }).keyId;
    if (!(await revokeApiKey(ctx.pool, id, keyId))) throw new NotFoundError(`User ${id} has no API key ${keyId}.`);
    return {};
  });
}
