import type { User } from './users.js';

/**
 * Octopus's permission names, for the ones Cuttle checks so far. Until teams and roles exist, an
 * administrator holds every permission and any other active user holds the everyday task ones.
 */
export const PERMISSIONS = ['AdministerSystem', 'TaskView', 'TaskCreate', 'TaskCancel', 'TaskEdit'] as const;
export type Permission = (typeof PERMISSIONS)[number];

const EVERY_USER: ReadonlySet<Permission> = new Set(['TaskView', 'TaskCreate', 'TaskCancel']);

export function hasPermission(user: User | undefined, permission: Permission): boolean {
  if (!user?.isActive) return false;
  return user.isAdmin || EVERY_USER.has(permission);
}
