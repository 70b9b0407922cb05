// Every answer in Octopus's shape, with the security headers: requests Node cannot parse (a header
// section too large, a malformed request line), bodies nested too deep, and a node whose database
// is gone (refused, or hanging). Real node processes; a real TCP proxy between a node and PostgreSQL.
import assert from 'node:assert/strict';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../src/db/embedded.js';
import { ADMIN_API_KEY, api, freshDatabase, queueTask, readyCluster, startNode, untilTask, waitFor, type ApiResponse, type NodeProcess } from './helpers.js';

const K = { apiKey: ADMIN_API_KEY };

/** Octopus's error body, and nothing that looks like a stack trace. */
function assertErrorBody(status: number, body: any, expected: number, what: string): void {
  assert.equal(status, expected, `${what}: status (body ${JSON.stringify(body)})`);
  assert.equal(typeof body, 'object', `${what}: a JSON body`);
  assert.equal(typeof body.ErrorMessage, 'string', `${what}: ErrorMessage`);
  assert.ok(body.ErrorMessage.length > 0, `${what}: a non-empty ErrorMessage`);
  assert.ok(Array.isArray(body.Errors) && body.Errors.length > 0 && body.Errors.every((e: unknown) => typeof e === 'string'), `${what}: Errors is a list of strings`);
  assert.doesNotMatch(JSON.stringify(body), /\bat .+\.(js|ts):\d+|node_modules|stack/i, `${what}: no stack trace`);
}

function assertSecurityHeaders(headers: Headers, what: string): void {
  assert.equal(headers.get('x-content-type-options'), 'nosniff', `${what}: X-Content-Type-Options`);
  assert.equal(headers.get('x-frame-options'), 'DENY', `${what}: X-Frame-Options`);
  assert.equal(headers.get('content-security-policy'), "frame-ancestors 'none'", `${what}: Content-Security-Policy`);
}

interface RawAnswer { status: number; headers: Headers; body: any; text: string }

/** Sends bytes as they are over a plain TCP socket and reads the answer until the server closes. */
function rawExchange(url: string, request: string): Promise<RawAnswer> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = createConnection(Number(port), hostname);
    const chunks: Buffer[] = [];
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      const head = (split < 0 ? text : text.slice(0, split)).split('\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(head[0] ?? '')?.[1] ?? 0);
      const headers = new Headers();
      for (const line of head.slice(1)) {
        const colon = line.indexOf(':');
        if (colon > 0) headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
      }
      let body: unknown = split < 0 ? '' : text.slice(split + 4);
      try { body = JSON.parse(body as string); } catch { /* not JSON */ }
      resolve({ status, headers, body, text });
    });
    socket.setTimeout(15_000, () => { socket.destroy(); reject(new Error('no answer within 15 s')); });
    socket.write(request);
  });
}

/** `{"a":{"a":…{}…}}` nested `depth` levels: built as text, since JSON.stringify would recurse as deep. */
function nestedJson(depth: number): string {
  return '{"a":'.repeat(depth) + '{}' + '}'.repeat(depth);
}

describe('errors raised before routing, and bodies nested too deep', () => {
  let node: NodeProcess;
  before(async () => {
    const c = await readyCluster(['errs']);
    node = await startNode(c.homes[0]!, 'errs');
  });
  after(async () => { await node.kill('SIGTERM'); });

  it('answers a header section over the limit with 431 and the Octopus error body', async () => {
    const r = await rawExchange(node.url, `GET /api HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'a'.repeat(40_000)}\r\n\r\n`);
    assertErrorBody(r.status, r.body, 431, '431');
    assert.match(r.body.ErrorMessage, /headers are too large/);
    assert.equal(r.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.equal(r.headers.get('octopus-node'), 'errs');
    assertSecurityHeaders(r.headers, '431');
  });

  it('answers a malformed request line or an invalid header with 400 and the Octopus error body', async () => {
    const requests = [
      'THIS IS NOT HTTP\r\n\r\n',
      'GET /api HTTP/1.1 trailing words\r\nHost: localhost\r\n\r\n',
      'GET /api HTTP/1.1\r\nHost: localhost\r\nBad Header Name: x\r\n\r\n',
    ];
    for (const request of requests) {
      const r = await rawExchange(node.url, request);
      assertErrorBody(r.status, r.body, 400, JSON.stringify(request));
      assert.match(r.body.ErrorMessage, /cannot be understood as HTTP/);
      assertSecurityHeaders(r.headers, JSON.stringify(request));
    }
    // The node still answers well-formed requests afterwards.
    assert.equal((await api(node.url, '/api')).status, 200);
  });

  it('answers a body nested 20,000 levels deep in Arguments with 400, and queues nothing', async () => {
    const before = (await api(node.url, '/api/tasks?take=0', K)).body.TotalResults as number;
    const body = `{"Name":"Noop","Arguments":${nestedJson(20_000)}}`;
    const r = await api(node.url, '/api/tasks', { ...K, rawBody: body });
    assertErrorBody(r.status, r.body, 400, 'nested 20,000 levels');
    assert.match(r.body.ErrorMessage, /nests objects or arrays more than \d+ levels deep/);
    assertSecurityHeaders(r.headers, 'nested body');
    // Arrays count the same; the space-scoped route the same.
    const arrays = await api(node.url, '/api/Spaces-1/tasks', { ...K, rawBody: `{"Name":"Noop","Arguments":{"a":${'['.repeat(20_000)}${']'.repeat(20_000)}}}` });
    assertErrorBody(arrays.status, arrays.body, 400, 'arrays nested 20,000 levels');
    assert.equal((await api(node.url, '/api/tasks?take=0', K)).body.TotalResults, before, 'nothing was queued');
  });

  it('does not count brackets inside strings, and takes a moderately nested body', async () => {
    const t = await queueTask(node, { Name: 'Noop', Description: `${'{['.repeat(500)} in a string`, Arguments: JSON.parse(nestedJson(20)) });
    await untilTask(node, t.Id, (x) => x.State === 'Success', 'to succeed', 20_000);
  });

  it('sends the security headers on API, error, 404 and portal answers; no-store on the API, no-cache on the portal page', async () => {
    const t = await queueTask(node, { Name: 'Noop' });
    const answers: [string, ApiResponse][] = [
      ['GET /api', await api(node.url, '/api')],
      ['GET /api/tasks (authenticated)', await api(node.url, '/api/tasks?take=1', K)],
      ['GET /api/users/me (authenticated)', await api(node.url, '/api/users/me', K)],
      ['GET /api/tasks/{id} (authenticated)', await api(node.url, `/api/tasks/${t.Id}`, K)],
      ['GET /api/tasks/{id}/raw (authenticated)', await api(node.url, `/api/tasks/${t.Id}/raw`, K)],
      ['401', await api(node.url, '/api/tasks')],
      ['404 in the API', await api(node.url, '/api/no-such-thing', K)],
      ['400 bad JSON', await api(node.url, '/api/tasks', { ...K, rawBody: '{"Name":' })],
      ['400 bad URL', await api(node.url, '/api/users/%ZZ', K)],
      ['ping', await api(node.url, '/api/octopusservernodes/ping')],
    ];
    for (const [what, r] of answers) {
      assertSecurityHeaders(r.headers, what);
      assert.equal(r.headers.get('cache-control'), 'no-store', `${what}: Cache-Control`);
      assert.equal(r.headers.get('octopus-node'), 'errs', `${what}: Octopus-Node`);
    }
    const portal = await api(node.url, '/');
    assert.equal(portal.status, 200);
    assertSecurityHeaders(portal.headers, 'portal page');
    assert.equal(portal.headers.get('cache-control'), 'no-cache', 'the portal page is revalidated at every load');
    const missing = await api(node.url, '/no-such-page.js');
    assert.equal(missing.status, 404);
    assertSecurityHeaders(missing.headers, 'portal 404');
    assert.notEqual(missing.headers.get('cache-control'), 'no-store', 'outside the API the route decides the cache policy');
    // The live log stream writes its own response head; the headers are on it too.
    const stream = await fetch(`${node.url}/api/tasks/${t.Id}/log/stream`, { headers: { 'X-Octopus-ApiKey': ADMIN_API_KEY } });
    assert.equal(stream.status, 200);
    assertSecurityHeaders(stream.headers, 'log stream');
    assert.equal(stream.headers.get('cache-control'), 'no-store', 'log stream: Cache-Control');
    await stream.body?.cancel();
  });
});

/** Forwards TCP to PostgreSQL; can hang every connection (nothing passes, nothing closes) or refuse them all. */
class DatabaseProxy {
  private readonly sockets = new Set<Socket>();
  private server: Server | undefined;
  private frozen = false;
  constructor(readonly port: number, private readonly target: number) {}

  async open(): Promise<void> {
    this.frozen = false;
    const server = createServer((client) => {
      this.sockets.add(client);
      client.on('close', () => this.sockets.delete(client));
      client.on('error', () => undefined);
      if (this.frozen) { client.pause(); return; }
      const upstream = createConnection(this.target, '127.0.0.1');
      this.sockets.add(upstream);
      upstream.on('close', () => this.sockets.delete(upstream));
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((r) => server.listen(this.port, '127.0.0.1', r));
    this.server = server;
  }

  /** Every connection, open and new, hangs: the database looks alive to TCP and never answers. */
  freeze(): void {
    this.frozen = true;
    for (const s of this.sockets) { s.unpipe(); s.pause(); }
  }

  /** Every connection is cut and new ones are refused, as when PostgreSQL is down. */
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }
}

/** Fetch that fails the test instead of hanging: the ping and the API must answer by themselves. */
async function bounded(url: string, init: RequestInit = {}): Promise<{ status: number; headers: Headers; body: any }> {
  const r = await fetch(url, { ...init, signal: AbortSignal.timeout(20_000) });
  const text = await r.text();
  let body: unknown = text;
  try { body = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, headers: r.headers, body };
}

describe('a node whose database is gone', () => {
  let node: NodeProcess;
  let proxy: DatabaseProxy;
  before(async () => {
    const direct = new URL(await freshDatabase());
    proxy = new DatabaseProxy(await freePort(), Number(direct.port));
    await proxy.open();
    const viaProxy = new URL(direct);
    viaProxy.port = String(proxy.port);
    const c = await readyCluster(['cutoff'], { databaseUrl: viaProxy.toString() });
    node = await startNode(c.homes[0]!, 'cutoff');
    // The key is known (cached) before the outage, so the 503 below comes from the route's own query.
    assert.equal((await api(node.url, '/api/users/me', K)).status, 200);
  });
  after(async () => {
    await node.kill('SIGKILL');
    await proxy.close();
  });

  function assertUnavailable(r: { status: number; headers: Headers; body: any }, what: string): void {
    assertErrorBody(r.status, r.body, 503, what);
    assert.match(r.headers.get('retry-after') ?? '', /^\d+$/, `${what}: Retry-After`);
    assert.equal(r.headers.get('octopus-node'), 'cutoff', `${what}: Octopus-Node`);
    assertSecurityHeaders(r.headers, what);
  }

  it('answers the ping with 503 in bounded time while the database hangs', async () => {
    proxy.freeze();
    const ping = await bounded(`${node.url}/api/octopusservernodes/ping`);
    assertUnavailable(ping, 'ping, database hanging');
    assert.match(ping.body.ErrorMessage, /did not answer/);
  });

  it('answers the ping and API calls with 503, the Octopus body and Retry-After while the database refuses connections', async () => {
    await proxy.close();
    assertUnavailable(await bounded(`${node.url}/api/octopusservernodes/ping`), 'ping, database down');
    assertUnavailable(await bounded(`${node.url}/api/tasks`, { headers: { 'X-Octopus-ApiKey': ADMIN_API_KEY } }), 'GET /api/tasks, database down');
    const post = await bounded(`${node.url}/api/tasks`, { method: 'POST', headers: { 'X-Octopus-ApiKey': ADMIN_API_KEY, 'content-type': 'application/json' }, body: '{"Name":"Noop"}' });
    assertUnavailable(post, 'POST /api/tasks, database down');
    assert.match(post.body.ErrorMessage, /database cannot take this request/);
    // A credential the node has not seen needs the database to be checked: 503, not 401 nor 500.
    assertUnavailable(await bounded(`${node.url}/api/users/me`, { headers: { 'X-Octopus-ApiKey': 'API-NEVERSEEN000000000000000000001' } }), 'unknown key, database down');
  });

  it('answers 200 again once the database is back', async () => {
    await proxy.open();
    await waitFor('the ping to answer 200', async () => (await bounded(`${node.url}/api/octopusservernodes/ping`)).status === 200, 30_000, 250);
    assert.equal((await api(node.url, '/api/tasks?take=1', K)).status, 200);
  });
});
