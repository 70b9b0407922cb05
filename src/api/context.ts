import type { Logger } from 'pino';
import type { MasterKey } from '../crypto/masterKey.js';
import type { Pool } from '../db/pool.js';
import type { RuntimeOptions } from '../config/options.js';
import type { User } from '../auth/users.js';
import type { Notifications } from '../cluster/notifications.js';
import type { ResolvedPaths } from '../storage/sharedPaths.js';
import type { TaskRegistry } from '../tasks/handler.js';
import type { NodeMetrics } from '../ops/metrics.js';

/** What every route may use; built once by the composition root. */
export interface ApiContext {
  readonly pool: Pool;
  readonly key: MasterKey;
  readonly nodeName: string;
  readonly nodeId: string;
  readonly installationId: string;
  readonly options: RuntimeOptions;
  readonly log: Logger;
  /** Whether this node can currently prove it is alive (its liveness connection is up). */
  readonly healthy: () => boolean;
  /** True once the node is registered and takes tasks; until then its ping answers 503. */
  readonly ready: () => boolean;
  /** The shared folders as this node last verified them. */
  readonly sharedPaths: () => ResolvedPaths | undefined;
  readonly notifications: Notifications;
  /** The task types this node can queue and run. */
  readonly registry: TaskRegistry;
  /** This node's Prometheus metrics (GET /metrics); absent in servers built without them. */
  readonly metrics?: NodeMetrics;
}

declare module 'fastify' {
  interface FastifyRequest {
    user?: User;
  }
}
