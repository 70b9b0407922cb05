import type { FastifyError, FastifyInstance } from 'fastify';
import pg from 'pg';
import { ConflictError, CuttleError, EnvironmentError, ForbiddenError, InputError, NotFoundError, TooLargeError, UnauthorizedError, UsageError, errorMessage } from '../errors.js';
import { isDatabaseUnavailable } from '../db/pool.js';

/** Octopus's error body; the only shape an error response ever has. */
export interface OctopusErrorBody { ErrorMessage: string; Errors: string[] }

export function errorBody(message: string, errors: string[] = []): OctopusErrorBody {
  return { ErrorMessage: message, Errors: errors.length ? errors : [message] };
}

/** Seconds a client should wait before trying a 503 again (the Retry-After header). */
export const RETRY_AFTER_SECONDS = 5;

const DATABASE_UNAVAILABLE = `The database cannot take this request right now (it is unreachable, restarting or out of connections); try again in ${RETRY_AFTER_SECONDS} seconds.`;

export function statusOf(err: unknown): number {
  if (err instanceof InputError || err instanceof UsageError) return 400;
  if (err instanceof UnauthorizedError) return 401;
  if (err instanceof ForbiddenError) return 403;
  if (err instanceof NotFoundError) return 404;
  if (err instanceof ConflictError) return 409;
  if (err instanceof TooLargeError) return 413;
  if (err instanceof EnvironmentError) return 503;
  return 500;
}

function fastifyMessage(err: FastifyError): { status: number; message: string; errors: string[] } {
  if (err.validation) {
    const errors = err.validation.map((v) => `${(v.instancePath || '/').replace(/^\//, '') || 'body'} ${v.message ?? 'is invalid'}`);
    return { status: 400, message: 'There was a problem with your request.', errors };
  }
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 400, message: 'The request body is not valid JSON; send a JSON object.', errors: [] };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, message: 'The request body has an unsupported content type; send application/json.', errors: [] };
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, message: 'The request body is too large.', errors: [] };
    default:
      break;
  }
  const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
  return { status, message: status === 500 ? 'The server could not complete the request.' : err.message, errors: [] };
}

/** SQLSTATE class 22, "data exception": raised by the values a query was given. */
function isDataException(err: unknown): boolean {
  return err instanceof pg.DatabaseError && typeof err.code === 'string' && err.code.startsWith('22');
}

interface Answer { status: number; body: OctopusErrorBody }

/** Every error a route, hook or Fastify itself raises, as a status and Octopus's body. */
export function answerFor(err: unknown): Answer {
  if (err instanceof CuttleError) return { status: statusOf(err), body: errorBody(err.message, err.details) };
  // Not the request's fault and not a bug: the database is down, restarting or full.
  if (isDatabaseUnavailable(err)) return { status: 503, body: errorBody(DATABASE_UNAVAILABLE) };
  if (isDataException(err)) {
    // A value from the request that PostgreSQL cannot hold (a NUL character, say): the caller's input, not a server fault.
    return { status: 400, body: errorBody('The request holds a value the server cannot store or look up (such as a NUL character); remove it and try again.') };
  }
  const f = fastifyMessage((typeof err === 'object' && err !== null ? err : {}) as FastifyError);
  return { status: f.status, body: errorBody(f.message, f.errors) };
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, req, reply) => {
    const { status, body } = answerFor(err);
    // Never a stack trace to the client. The log gets the detail of a 500; a 503 is a state of the
    // environment (the database is down, say), one line each, not a stack trace per request.
    if (status === 503) {
      req.log.warn({ err: errorMessage(err), code: (err as { code?: unknown }).code }, 'answered 503: the environment cannot take the request');
      // Tells clients and load balancers to come back later, or go to another node meanwhile.
      void reply.header('Retry-After', String(RETRY_AFTER_SECONDS));
    } else if (status >= 500) {
      req.log.error({ err }, 'request failed');
    }
    void reply.code(status).type('application/json').send(body);
  });
  // The 404 for what matched no route is the portal's (routes/portal.ts): outside the API it may be a page.
}
