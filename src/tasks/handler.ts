import type { TSchema } from 'typebox';
import { Compile, type Validator } from 'typebox/compile';
import type { Permission } from '../auth/permissions.js';
import { InputError } from '../errors.js';
import type { LogBlock, Masker } from './log.js';
import type { OwnedTask } from './owned.js';
import type { ScriptOptions } from './runner.js';
import type { Queryable } from '../db/pool.js';
import type { Outcome, TaskRow, TaskState } from './types.js';

/** What a handler's run may use. The flow is one-way: engine → handler → step → script. */
export interface TaskContext<A = Record<string, unknown>> {
  readonly task: TaskRow;
  readonly args: A;
  readonly nodeName: string;
  /** The task's root log block; steps open children of it. */
  readonly log: LogBlock;
  /** Aborted on cancel, timeout, loss of ownership or log failure; its reason is a StopReason. */
  readonly signal: AbortSignal;
  /** Writes fenced by the claim token: they fail with FencedError once the task is not this node's. */
  readonly owned: OwnedTask;
  /** Values to mask in the log from now on (sensitive variables, once decrypted). */
  readonly sensitive: Masker;
  /** Runs one script on the built-in worker; stops with `signal` unless given a narrower one. */
  runScript(o: RunScriptOptions): Promise<Outcome>;
  /**
   * A folder for the whole run (a package extracted for later steps), on this node, beside the
   * script folders: an unguessable name, mode 0700, owned by the built-in worker's user (`owner`,
   * absent when scripts run as the node's own user); removed when the run ends.
   */
  taskFolder(name: string): Promise<{ readonly path: string; readonly owner?: { readonly uid: number; readonly gid: number } }>;
}

export type RunScriptOptions = Omit<ScriptOptions, 'signal' | 'services' | 'cwd' | 'nodeName'> & { readonly signal?: AbortSignal; readonly folder?: string };

export interface TaskPermissions {
  readonly queue: Permission;
  readonly view: Permission;
  readonly cancel: Permission;
  readonly rerun: Permission;
}

export interface ParsedArguments<A> {
  readonly arguments: A;
  /** The task's own time limit, when the handler sets one (e.g. from an argument). */
  readonly timeoutSeconds?: number | null;
}

export type TaskArguments = Record<string, unknown>;

/** One kind of server task. The engine knows handlers only through this interface. */
export interface TaskHandler<A extends TaskArguments = TaskArguments> {
  readonly name: string;
  readonly description: string;
  /** Whether the task may simply run again, from the start, when its node dies. */
  readonly safeToRerun: boolean;
  /** Writes no start and end lines of its own (a Noop logs exactly one line). */
  readonly quiet?: boolean;
  readonly argumentsSchema: TSchema;
  readonly permissions: TaskPermissions;
  /**
   * The route that queues tasks of this type (a deployment queues its Deploy task with the deployment
   * row); the generic task routes then refuse to queue or re-run one and name that route instead.
   */
  readonly queuedBy?: string;
  /**
   * A task of this type was settled by recovery (its node died and it was not run again): called in
   * recovery's transaction, so what the handler records about the outcome (a deployment's event)
   * commits with it.
   */
  settledByRecovery?(db: Queryable, task: TaskRow, state: TaskState, message: string): Promise<void>;
  /** Checks beyond the schema and normalisation (defaults); returns every problem in `errors`. */
  prepare?(args: A, errors: string[]): ParsedArguments<A>;
  run(ctx: TaskContext<A>): Promise<Outcome>;
}

interface Registered {
  readonly handler: TaskHandler;
  readonly validator: Validator;
}

function describeError(e: { instancePath: string; message: string; params?: Record<string, unknown> }): string {
  const where = `Arguments${e.instancePath.replace(/\//g, '.')}`;
  const allowed = e.params?.allowedValues;
  return Array.isArray(allowed) ? `${where} must be one of ${allowed.join(', ')}.` : `${where} ${e.message}.`;
}

/**
 * The task types this node can queue and run. Handlers register from the composition root, so
 * the engine and the API never name a task type.
 */
export class TaskRegistry {
  private readonly handlers = new Map<string, Registered>();

  register<A extends TaskArguments>(handler: TaskHandler<A>): this {
    if (this.handlers.has(handler.name)) throw new Error(`task type ${handler.name} is registered twice`);
    // Stored without its argument type: the schema check below is what makes `args` an `A`.
    this.handlers.set(handler.name, { handler, validator: Compile(handler.argumentsSchema) });
    return this;
  }

  get(name: string): TaskHandler | undefined {
    return this.handlers.get(name)?.handler;
  }

  /** The registration for a name a caller sent, or a 400 naming the types there are. */
  private registered(name: string): Registered {
    const r = this.handlers.get(name);
    if (!r) throw new InputError(`Tasks of type "${name}" cannot be queued here; use one of ${[...this.handlers.keys()].join(', ')}.`);
    return r;
  }

  list(): TaskHandler[] {
    return [...this.handlers.values()].map((r) => r.handler);
  }

  /** The handler for a name a caller sent, or a 400 naming the types there are. */
  require(name: string): TaskHandler {
    return this.registered(name).handler;
  }

  /** Validates a task's arguments against its handler's schema, then its own checks; one 400 names every problem. */
  parseArguments(name: string, raw: unknown): ParsedArguments<Record<string, unknown>> {
    const r = this.registered(name);
    const args = (raw ?? {}) as TaskArguments;
    if (!r.validator.Check(args)) {
      const seen = new Set<string>();
      const errors = [...r.validator.Errors(args)]
        .filter((e) => !['anyOf', 'oneOf'].includes(e.keyword))
        .map(describeError).filter((m) => !seen.has(m) && seen.add(m));
      throw new InputError('There was a problem with your request.', errors);
    }
    const errors: string[] = [];
    const parsed = r.handler.prepare ? r.handler.prepare(args, errors) : { arguments: args };
    // Every task type may carry its own time limit.
    const t = args.TimeoutSeconds;
    let timeoutSeconds = parsed.timeoutSeconds ?? null;
    if (t !== undefined) {
      if (typeof t !== 'number' || !Number.isInteger(t) || t < 1 || t > 7 * 86400) errors.push('Arguments.TimeoutSeconds must be a whole number of seconds from 1 to 604800.');
      else timeoutSeconds = t;
    }
    if (errors.length) throw new InputError('There was a problem with your request.', errors);
    return { arguments: parsed.arguments, timeoutSeconds };
  }
}
