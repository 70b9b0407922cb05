import type { User } from './users.js';

/**
 * Octopus's permission names, for the ones Cuttle checks so far. Every route asks `hasPermission`
 * (through the API's `requirePermission`), and task routes ask for the permissions their task
 * type's handler declares; teams and roles will only change who holds what, here.
 */
export const PERMISSIONS = ['AdministerSystem', 'UserView', 'UserEdit', 'TaskView', 'TaskCreate', 'TaskCancel', 'TaskEdit', 'ArtifactView', 'EnvironmentView', 'EnvironmentEdit', 'LifecycleView', 'LifecycleEdit', 'ProjectGroupView', 'ProjectGroupEdit', 'ProjectView', 'ProjectEdit', 'ProcessView', 'ProcessEdit', 'VariableView', 'VariableEdit', 'ReleaseView', 'ReleaseCreate', 'DeploymentView', 'DeploymentCreate', 'FeedView', 'EventView', 'BuiltInFeedPush', 'BuiltInFeedDownload', 'BuiltInFeedAdminister'] as const;
export type Permission = (typeof PERMISSIONS)[number];

/**
 * Until teams and roles exist: what every active user holds. An administrator (made by `cuttle admin`) holds every permission,
 * and only an administrator reads the audit events (EventView).
 */
const EVERY_USER: ReadonlySet<Permission> = new Set(['TaskView', 'TaskCreate', 'TaskCancel', 'ArtifactView', 'EnvironmentView', 'LifecycleView', 'ProjectGroupView',
  // Octopus's project viewers and deployers: read the projects, create releases and deploy them; changing them is an administrator's.
  'ProjectView', 'ProcessView', 'VariableView', 'ReleaseView', 'ReleaseCreate', 'DeploymentView', 'DeploymentCreate', 'FeedView',
  // Octopus's package publishers: push packages and build information, and download them; deleting them is an administrator's.
  'BuiltInFeedPush', 'BuiltInFeedDownload']);

export function hasPermission(user: User | undefined, permission: Permission): boolean {
  if (!user?.isActive) return false;
  return user.isAdmin || EVERY_USER.has(permission);
}
