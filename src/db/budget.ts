import type { Logger } from 'pino';
import { errorMessage } from '../errors.js';
import type { Queryable } from './pool.js';

/** The dedicated connections of every node besides its pool: liveness and notifications. */
export const DEDICATED_CONNECTIONS = 2;

/** A node's pool setting, as configuration resolved it. */
export interface PoolSetting {
  readonly size: number;
  /** Where the size came from (the variable, the config file, the default): named in the advice. */
  readonly setBy: string;
  /** The smallest size the setting accepts: below it, fewer pooled connections is no advice. */
  readonly smallest: number;
}

/** What the server allows, as it reports it to the connected role. */
export interface ServerConnections {
  readonly maxConnections: number;
  /** superuser_reserved_connections: slots only superusers may take. */
  readonly superuserReserved: number;
  /** reserved_connections (PostgreSQL 16+): slots for roles granted pg_use_reserved_connections. */
  readonly reserved: number;
  /** Client connections open on the whole server right now. */
  readonly inUse: number;
  readonly role: string;
  readonly superuser: boolean;
}

export async function readServerConnections(db: Queryable): Promise<ServerConnections> {
  const r = await db.query<{ max_connections: number; superuser_reserved: number; reserved: number; in_use: number; role: string; superuser: boolean }>(`
    SELECT current_setting('max_connections')::int AS max_connections,
           current_setting('superuser_reserved_connections')::int AS superuser_reserved,
           coalesce(current_setting('reserved_connections', true), '0')::int AS reserved,
           -- Sessions of other roles show no backend_type to a role that is not a superuser, but their
           -- database: client sessions have one, the server's own processes (but autovacuum's) none.
           (SELECT count(*) FROM pg_stat_activity WHERE datid IS NOT NULL)::int AS in_use,
           current_user AS role,
           current_setting('is_superuser') = 'on' AS superuser`);
  const row = r.rows[0]!;
  return {
    maxConnections: row.max_connections, superuserReserved: row.superuser_reserved, reserved: row.reserved,
    inUse: row.in_use, role: row.role, superuser: row.superuser,
  };
}

/**
 * Connections kept free for people and tools besides the nodes: psql, backups, monitoring, and
 * `cuttle` commands (doctor, node, nodes open up to three each).
 */
export const ADMIN_HEADROOM = 5;

export interface ConnectionBudget {
  /** The nodes' connections: nodes × (pool + liveness + notifications). */
  readonly nodesNeed: number;
  /** The nodes' need plus the reserved slots and the administrators' headroom. */
  readonly need: number;
  readonly fits: boolean;
  /** The largest pool size with which the same number of nodes fits (below the minimum: none). */
  readonly largestPoolThatFits: number;
  /** One sentence: the sum, and what to change when it does not fit. */
  readonly text: string;
}

/**
 * The cluster's connection need against what the server allows. Every node is counted with this
 * node's pool size: the setting is meant to be the same on every node of a cluster. With
 * `viaPooler` (the pool goes through PgBouncer, the dedicated connections elsewhere) the server
 * sees only the dedicated connections and the pooler's own: what is left is the pooler's share.
 */
export function connectionBudget(nodes: number, pool: PoolSetting, server: ServerConnections, viaPooler = false): ConnectionBudget {
  const perNode = (viaPooler ? 0 : pool.size) + DEDICATED_CONNECTIONS;
  const nodesNeed = nodes * perNode;
  const reserved = server.superuserReserved + server.reserved;
  const need = nodesNeed + reserved + ADMIN_HEADROOM;
  const fits = need <= server.maxConnections;
  const largestPoolThatFits = Math.floor((server.maxConnections - reserved - ADMIN_HEADROOM) / Math.max(1, nodes)) - DEDICATED_CONNECTIONS;
  const perNodeText = viaPooler
    ? `${DEDICATED_CONNECTIONS} for liveness and notifications; the ${pool.size} pooled, set by ${pool.setBy}, go through a pooler`
    : `${pool.size} pooled, set by ${pool.setBy}, + ${DEDICATED_CONNECTIONS} for liveness and notifications`;
  const sum = `${nodes} node(s) × (${perNodeText}) = ${nodesNeed} connections, `
    + `plus ${reserved} reserved and ${ADMIN_HEADROOM} for administrators = ${need} of max_connections ${server.maxConnections} (${server.inUse} in use now)`;
  if (fits) {
    const share = viaPooler ? `; the pooler's server connections (PgBouncer's default_pool_size) must stay within the ${server.maxConnections - need} left` : '';
    return { nodesNeed, need, fits, largestPoolThatFits, text: `connection budget: ${sum}${share}` };
  }
  const fixes = [
    ...(!viaPooler && largestPoolThatFits >= pool.smallest ? [`set CUTTLE_DATABASE_POOL_SIZE (or databasePoolSize in each node's config file) to ${largestPoolThatFits} or less on every node`] : []),
    `raise max_connections to at least ${need} in postgresql.conf (a restart)`,
    ...(viaPooler ? [] : ['or put PgBouncer in front of PostgreSQL for the pooled connections (see the README: liveness and notifications must bypass transaction pooling)']),
  ];
  return { nodesNeed, need, fits, largestPoolThatFits, text: `the cluster may need more connections than the server allows: ${sum}; under load requests will wait for connections and may fail with 503, so ${fixes.join(', ')}.` };
}

/**
 * The start-up check: a warning in the log when the cluster's need exceeds the server's limit,
 * never a refusal (a node that starts and waits for connections beats a node that does not start).
 */
export async function logConnectionBudget(db: Queryable, countNodes: () => Promise<number>, pool: PoolSetting, viaPooler: boolean, log: Logger): Promise<void> {
  try {
    const nodes = await countNodes();
    const server = await readServerConnections(db);
    const budget = connectionBudget(nodes, pool, server, viaPooler);
    const fields = { poolSize: pool.size, nodes, need: budget.need, maxConnections: server.maxConnections };
    if (budget.fits) log.info(fields, budget.text);
    else log.warn({ ...fields, largestPoolThatFits: budget.largestPoolThatFits }, budget.text);
  } catch (err) {
    log.warn({ err: errorMessage(err) }, 'could not compare the cluster\'s connection need with the server\'s max_connections; run `cuttle doctor`');
  }
}
