import type { FastifyError, FastifyInstance } from 'fastify';
import pg from 'pg';
import { ConflictError, CuttleError, EnvironmentError, ForbiddenError, InputError, NotFoundError, UnauthorizedError, UsageError } from '../errors.js';

/** Octopus's error body; the only shape an error response ever has. */
export interface OctopusErrorBody { ErrorMessage: string; Errors: string[] }

export function statusOf(err: unknown): number {
  if (err instanceof InputError || err instanceof UsageError) return 400;
  if (err instanceof UnauthorizedError) return 401;
  if (err instanceof ForbiddenError) return 403;
  if (err instanceof NotFoundError) return 404;
  if (err instanceof ConflictError) return 409;
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

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, req, reply) => {
    let status: number;
    let body: OctopusErrorBody;
    if (err instanceof CuttleError) {
      status = statusOf(err);
      body = { ErrorMessage: err.message, Errors: err.details.length ? err.details : [err.message] };
    } else if (isDataException(err)) {
      // A value from the request that PostgreSQL cannot hold (a NUL character, say): the caller's input, not a server fault.
      status = 400;
      const msg = 'The request holds a value the server cannot store or look up (such as a NUL character); remove it and try again.';
      body = { ErrorMessage: msg, Errors: [msg] };
    } else {
      const f = fastifyMessage(err);
      status = f.status;
      body = { ErrorMessage: f.message, Errors: f.errors.length ? f.errors : [f.message] };
    }
    // Never a stack trace to the client; the log gets the detail for 5xx.
    if (status >= 500) req.log.error({ err }, 'request failed');
    void reply.code(status).type('application/json').send(body);
  });
  app.setNotFoundHandler((req, reply) => {
    const msg = `There is no resource at ${req.method} ${req.url.split('?')[0]}.`;
    void reply.code(404).send({ ErrorMessage: msg, Errors: [msg] } satisfies OctopusErrorBody);
  });
}
