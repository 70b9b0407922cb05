// What the portal's Configuration area reads beside the resources: a user's permissions (as
// Octopus's `/api/users/{id}/permissions`), the shared-storage locations every node uses, and the
// master key, shown to an administrator only after the password is entered again.
import type { FastifyInstance } from 'fastify';
import { PERMISSIONS, hasPermission } from '../../auth/permissions.js';
import { lockedMessage, signIn, signInPolicy } from '../../auth/signIn.js';
import { getUser } from '../../auth/users.js';
import { recordEvent } from '../../deploy/events.js';
import { ForbiddenError, InputError, NotFoundError, UnauthorizedError } from '../../errors.js';
import { getSharedPaths, SHARED_FOLDERS } from '../../storage/sharedPaths.js';
import { requirePermission } from '../auth.js';
import type { ApiContext } from '../context.js';
import { actorOf } from '../spaceScope.js';

const idParams = { type: 'object', properties: { id: { type: 'string', minLength: 1, maxLength: 200 } }, required: ['id'] } as const;

export function configurationRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const policy = signInPolicy();

  /** Octopus's UserPermissionSetResource, reduced to what Cuttle has: system-wide permissions. */
  app.get('/api/users/:id/permissions', { schema: { params: idParams } }, async (req) => {
    const id = (req.params as { id: string }).id === 'me' ? req.user!.id : (req.params as { id: string }).id;
    if (id !== req.user!.id) requirePermission(req, 'UserView');
    const user = id === req.user!.id ? req.user! : await getUser(ctx.pool, id);
    if (!user) throw new NotFoundError(`There is no user ${id}; list them with GET /api/users.`);
    return {
      Id: user.id,
      IsAdministrator: hasPermission(user, 'AdministerSystem'),
      SystemPermissions: PERMISSIONS.filter((p) => hasPermission(user, p)),
      SpacePermissions: {},
      Teams: [],
      IsPermissionsComplete: true,
      Links: { Self: `/api/users/${user.id}/permissions` },
    };
  });

  /** Where the cluster keeps its shared files (set by `cuttle path`), and what each node found there. */
  app.get('/api/configuration/storage', async (req) => {
    requirePermission(req, 'AdministerSystem');
    const settings = await getSharedPaths(ctx.pool);
    const resolved = ctx.sharedPaths();
    return {
      ClusterShared: settings.clusterShared ?? null,
      Folders: Object.fromEntries(SHARED_FOLDERS.map((f) => [f, {
        Path: resolved?.[f] ?? null,
        SetIndividually: settings.folders?.[f] !== undefined,
      }])),
      IsConfigured: resolved !== undefined,
      HowToChange: 'Run `cuttle path --clusterShared <folder>` (or --artifacts, --taskLogs, --packages, …) on any node; every node reads the same setting.',
    };
  });

  /**
   * The master key, which every node of the cluster needs (Octopus shows it in the Server Manager).
   * Administrators only, and only with their password again: the check goes through the sign-in
   * throttle, so it cannot be used to guess a password faster than signing in.
   */
  app.post('/api/configuration/masterkey', {
    schema: { body: { type: 'object', required: ['Password'], properties: { Password: { type: 'string', minLength: 1, maxLength: 1024 } } } },
  }, async (req) => {
    requirePermission(req, 'AdministerSystem');
    const me = req.user!;
    if (me.isService) throw new ForbiddenError('A service user has no password to confirm; sign in as an administrator with a password to see the master key, or run `cuttle show-master-key` on a node.');
    const r = await signIn(ctx.pool, policy, me.username, (req.body as { Password: string }).Password, req.ip);
    if (r.kind === 'locked') throw new InputError(lockedMessage(r.until));
    if (r.kind === 'failed' || r.user.id !== me.id) throw new UnauthorizedError('That is not your password; enter the password you sign in with to see the master key.');
    await recordEvent(ctx.pool, {
      spaceId: null, category: 'MasterKeyViewed', message: `The master key was shown to ${me.username}`,
      actor: actorOf(req), relatedDocumentIds: [me.id],
    });
    return { MasterKey: ctx.key.base64 };
  });
}
