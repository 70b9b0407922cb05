// What every HTTP answer of a node carries, including the ones Fastify never sees: security
// headers, the cache policy, JSON nesting limits, and Octopus's error body for requests that
// cannot even be parsed (a header section too large, a malformed request line).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyBodyParser, FastifyInstance } from 'fastify';
import { InputError } from '../errors.js';
import { errorBody } from './errors.js';

/** Headers on every response: no MIME sniffing, and no page of ours inside anybody's frame. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Content-Security-Policy': "frame-ancestors 'none'",
});

/** The decoded path, for deciding what kind of resource was asked for; undefined when it is not decodable. */
function decodedPath(url: string | undefined): string | undefined {
  try {
    return decodeURIComponent((url ?? '/').split('?')[0] ?? '/').toLowerCase();
  } catch {
    return undefined;
  }
}

/**
 * API answers hold the caller's data and are never to be stored by a browser or proxy (no-store);
 * the portal's page is revalidated at every load (no-cache) so a new version is picked up at once;
 * anything else (the portal's content-hashed assets) keeps the cache policy its route sets.
 * Decided from the decoded path, as the router decides (`/%61pi/tasks` is the API too).
 */
export function cachePolicy(url: string | undefined): string | undefined {
  const path = decodedPath(url);
  if (path === undefined || /^\/+api(\/|$)/.test(path)) return 'no-store';
  if (path === '/' || path === '/app' || path.endsWith('.html')) return 'no-cache';
  return undefined;
}

/**
 * Sets the headers on the raw response before Fastify sees the request, so that they are on every
 * answer: routed, 404, errors, framework errors, and streams that write the response themselves.
 * A route's own header of the same name wins (Node merges writeHead's headers over these).
 */
export function installResponseHeaders(app: FastifyInstance, nodeName: string): void {
  app.server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
    res.setHeader('Octopus-Node', nodeName);
    const cache = cachePolicy(req.url);
    if (cache) res.setHeader('Cache-Control', cache);
  });
}

const STATUS_TEXT: Readonly<Record<number, string>> = { 400: 'Bad Request', 408: 'Request Timeout', 413: 'Content Too Large', 431: 'Request Header Fields Too Large' };

function clientErrorAnswer(code: string | undefined): { status: number; message: string } {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, message: 'The request line and headers are too large (over 16 KB together); send shorter headers, such as fewer or smaller cookies.' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
    case 'ERR_HTTP_HEADERS_TIMEOUT':
      return { status: 408, message: 'The request did not arrive in time; send it again.' };
    default:
      return { status: 400, message: `The request cannot be understood as HTTP (${code ?? 'malformed'}); send a well-formed HTTP/1.1 request line and headers.` };
  }
}

const answered = new WeakSet<Socket>();

/**
 * Fastify's clientErrorHandler: Node found the request unparseable before any route could see it.
 * The answer is a whole HTTP response with Octopus's body. The connection is then half-closed and
 * what the client still sends is read and dropped: closing a socket with unread input makes the
 * kernel send a reset, which can destroy the answer before the client reads it.
 */
export function clientErrorHandler(nodeName: string): (err: NodeJS.ErrnoException, socket: Socket) => void {
  return (err, socket) => {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    // The parser stays in its error state and reports again for every later chunk: answer once.
    if (answered.has(socket)) return;
    answered.add(socket);
    const { status, message } = clientErrorAnswer(err.code);
    const body = JSON.stringify(errorBody(message));
    const headers = [
      `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Bad Request'}`,
      'Content-Type: application/json; charset=utf-8',
      `Content-Length: ${Buffer.byteLength(body)}`,
      'Connection: close',
      'Cache-Control: no-store',
      `Octopus-Node: ${nodeName}`,
      ...Object.entries(SECURITY_HEADERS).map(([k, v]) => `${k}: ${v}`),
    ];
    socket.on('data', () => undefined);
    if (socket.writable) socket.end(`${headers.join('\r\n')}\r\n\r\n${body}`);
    // A client that never closes its side does not keep the socket forever.
    setTimeout(() => socket.destroy(), 5_000).unref();
  };
}

/**
 * Objects and arrays nested deeper than this are refused: no document of the Octopus API nests
 * past a dozen levels, and the recursive steps after parsing (validation, JSON.stringify into the
 * database) overflow the stack on bodies nested thousands deep.
 */
export const MAX_JSON_DEPTH = 64;

/** True when the JSON text nests objects/arrays deeper than `limit` (brackets inside strings do not count). */
export function jsonNestsDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: the next character is escaped
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    }
  }
  return false;
}

/** Fastify's own JSON parser (empty bodies, prototype poisoning) behind a nesting-depth check. */
export function installJsonParser(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  const parser: FastifyBodyParser<string> = (req, body, done) => {
    if (jsonNestsDeeperThan(body, MAX_JSON_DEPTH)) {
      done(new InputError(`The request body nests objects or arrays more than ${MAX_JSON_DEPTH} levels deep; send a flatter document.`), undefined);
      return;
    }
    void parse(req, body, done);
  };
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, parser);
}
