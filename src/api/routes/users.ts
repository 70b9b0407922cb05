import type { FastifyInstance, FastifyReply } from 'fastify';
import { ForbiddenError, NotFoundError, UnauthorizedError } from '../../errors.js';
import { addApiKey, authenticatePassword, getUser, listApiKeys, type User } from '../../auth/users.js';
import { SESSION_COOKIE, createSession, revokeSession } from '../../auth/sessions.js';
import { cookieValue } from '../auth.js';
import type { ApiContext } from '../context.js';

export function userResource(u: User): object {
  return {
    Id: u.id,
    Username: u.username,
    DisplayName: u.displayName,
    EmailAddress: u.email,
    IsActive: u.isActive,
    IsService: false,
    CanPasswordBeEdited: true,
    IsRequestor: true,
    Links: { Self: `/api/users/${u.id}`, ApiKeys: `/api/users/${u.id}/apikeys{/id}{?skip,take}` },
  };
}

function setSessionCookie(reply: FastifyReply, token: string, expires: Date | undefined): void {
  const parts = [`${SESSION_COOKIE}=${encodeURIComponent(token)}`, 'Path=/', 'HttpOnly', 'SameSite=Lax'];
  parts.push(expires ? `Expires=${expires.toUTCString()}` : 'Max-Age=0');
  void reply.header('set-cookie', parts.join('; '));
}

const str = (max: number) => ({ type: 'string', minLength: 1, maxLength: max }) as const;

export function userRoutes(app: FastifyInstance, ctx: ApiContext): void {
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
    const user = await authenticatePassword(ctx.pool, Username, Password);
    if (!user) throw new UnauthorizedError('Invalid username or password.');
    const s = await createSession(ctx.pool, ctx.key, user.id);
    setSessionCookie(reply, s.token, s.expires);
    return userResource(user);
  });

  app.post('/api/users/logout', async (req, reply) => {
    const token = cookieValue(req, SESSION_COOKIE);
    if (token) await revokeSession(ctx.pool, ctx.key, token);
    setSessionCookie(reply, '', undefined);
    return {};
  });

  app.get('/api/users/me', (req) => userResource(req.user!));

  const idParam = { type: 'object', properties: { id: str(100) }, required: ['id'] } as const;

  function ownOrAdmin(reqUser: User, id: string): void {
    if (reqUser.id !== id && !reqUser.isAdmin) throw new ForbiddenError('You may only manage your own API keys.');
  }

  app.get('/api/users/:id', { schema: { params: idParam } }, async (req) => {
    const id = (req.params as { id: string }).id;
    const u = id === 'me' ? req.user : await getUser(ctx.pool, id);
    if (!u) throw new NotFoundError(`There is no user ${id}.`);
    return userResource(u);
  });

  app.post('/api/users/:id/apikeys', {
    schema: {
      params: idParam,
      body: { type: 'object', required: ['Purpose'], properties: { Purpose: { type: 'string', maxLength: 500 } } },
    },
  }, async (req, reply) => {
    const id = (req.params as { id: string }).id;
    ownOrAdmin(req.user!, id);
    if (!(await getUser(ctx.pool, id))) throw new NotFoundError(`There is no user ${id}.`);
    const k = await addApiKey(ctx.pool, id, (req.body as { Purpose: string }).Purpose);
    // The key itself is returned this once and never stored: only its hash is.
    return reply.code(201).send({
      Id: k.id, Purpose: k.purpose, UserId: id, ApiKey: k.apiKey, Created: k.created.toISOString(),
      Links: { Self: `/api/users/${id}/apikeys/${k.id}`, User: `/api/users/${id}` },
    });
  });

  app.get('/api/users/:id/apikeys', { schema: { params: idParam } }, async (req) => {
    const id = (req.params as { id: string }).id;
    ownOrAdmin(req.user!, id);
    const keys = await listApiKeys(ctx.pool, id);
    const items = keys.map((k) => ({ Id: k.id, Purpose: k.purpose, UserId: id, Created: k.created.toISOString(), Links: {} }));
    return { ItemType: 'ApiKey', TotalResults: items.length, ItemsPerPage: items.length, NumberOfPages: 1, LastPageNumber: 0, Items: items, Links: {} };
  });
}
