// Domain errors, mapped to HTTP status codes and CLI exit codes in one place each
// (api/errors.ts and cli/main.ts). Every message is one sentence: the problem and the fix.

export class CuttleError extends Error {
  readonly details: string[];
  constructor(message: string, details: string[] = []) {
    super(message);
    this.name = new.target.name;
    this.details = details;
  }
}

/** The caller sent something invalid (HTTP 400, CLI exit 2 when it is a usage problem). */
export class InputError extends CuttleError {}
/** A command line that cannot be understood (exit 2). */
export class UsageError extends CuttleError {}
export class NotFoundError extends CuttleError {}
/** The request conflicts with the current state (HTTP 409). */
export class ConflictError extends CuttleError {}
/** The request is larger than the server takes (HTTP 413). */
export class TooLargeError extends CuttleError {}
export class UnauthorizedError extends CuttleError {}
export class ForbiddenError extends CuttleError {}
/** Something in the environment is wrong: database, files, key (exit 1, HTTP 503). */
export class EnvironmentError extends CuttleError {}
/** The database cannot take the request now (unreachable, full, restarting): HTTP 503, worth retrying. */
export class DatabaseUnavailableError extends EnvironmentError {}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
