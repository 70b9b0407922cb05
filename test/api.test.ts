import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ADMIN_API_KEY, ADMIN_PASSWORD, adminQuery, api, apiAnnouncingBody, queueTask, readyCluster, signIn, startNode, type ApiResponse, type NodeProcess, type TestCluster } from './helpers.js';

const NODE_ID = 'OctopusServerNodes-solo';

/** Octopus's error body, and nothing that looks like a stack trace. */
function assertErrorBody(r: ApiResponse, status: number, what: string): void {
  assert.equal(r.status, status, `${what}: status (body ${JSON.stringify(r.body)})`);
  assert.equal(typeof r.body, 'object', `${what}: a JSON body`);
  assert.equal(typeof r.body.ErrorMessage, 'string', `${what}: ErrorMessage`);
  assert.ok(r.body.ErrorMessage.length > 0, `${what}: a non-empty ErrorMessage`);
  assert.ok(Array.isArray(r.body.Errors) && r.body.Errors.every((e: unknown) => typeof e === 'string'), `${what}: Errors is a list of strings`);
  const text = JSON.stringify(r.body);
  assert.doesNotMatch(text, /\bat .+\.(js|ts):\d+|node_modules|stack/i, `${what}: no stack trace`);
  assert.equal(r.headers.get('octopus-node'), 'solo', `${what}: Octopus-Node header`);
}

describe('the REST API of one node', () => {
  let c: TestCluster;
  let node: NodeProcess;
  let base: string;
  let adminId: string;

  before(async () => {
    c = await readyCluster(['solo']);
    node = await startNode(c.homes[0]!, 'solo');
    base = node.url;
    adminId = (await api(base, '/api/users/me', { apiKey: ADMIN_API_KEY })).body.Id;
  });
  after(async () => { await node.kill('SIGTERM'); });

  async function nodeState(): Promise<{ MaxConcurrentTasks: number; IsInMaintenanceMode: boolean }> {
    const r = await api(base, `/api/octopusservernodes/${NODE_ID}`, { apiKey: ADMIN_API_KEY });
    assert.equal(r.status, 200);
    return { MaxConcurrentTasks: r.body.MaxConcurrentTasks, IsInMaintenanceMode: r.body.IsInMaintenanceMode };
  }

  it('answers only the root document, the ping and login without credentials; everything else is 401 with the error body', async () => {
    const open = [
      await api(base, '/api'),
      await api(base, '/api/octopusservernodes/ping'),
    ];
    for (const r of open) assert.equal(r.status, 200);
    assert.equal(open[0]!.body.Application, 'Cuttle');
    const login = await api(base, '/api/users/login', { body: { Username: 'admin', Password: 'wrong password' } });
    assert.equal(login.status, 401, 'the login route is reachable without credentials (and refuses a wrong password)');

    const closed: [string, string][] = [
      ['GET', '/api/octopusservernodes'], ['GET', '/api/octopusservernodes/all'], ['GET', '/api/octopusservernodes/summary'],
      ['GET', `/api/octopusservernodes/${NODE_ID}`], ['GET', `/api/octopusservernodes/${NODE_ID}/details`],
      ['PUT', `/api/octopusservernodes/${NODE_ID}`], ['DELETE', `/api/octopusservernodes/${NODE_ID}`],
      ['POST', '/api/users/logout'], ['GET', '/api/users/me'], ['GET', `/api/users/${adminId}`],
      ['POST', `/api/users/${adminId}/apikeys`], ['GET', `/api/users/${adminId}/apikeys`],
      ['GET', '/api/tasks'], ['GET', '/api/Spaces-1/tasks'], ['POST', '/api/tasks'], ['GET', '/api/tasks/ServerTasks-1'],
      ['GET', '/api/tasks/ServerTasks-1/details'], ['GET', '/api/tasks/ServerTasks-1/raw'], ['POST', '/api/tasks/ServerTasks-1/cancel'],
      ['POST', '/api/tasks/rerun/ServerTasks-1'], ['GET', '/api/no-such-thing'], ['GET', '/api/octopusservernodes/ping/extra'],
    ];
    for (const [method, path] of closed) {
      const body = method === 'PUT' || method === 'POST' ? { IsInMaintenanceMode: true, Purpose: 'x', Name: 'AdHocScript' } : undefined;
      const r = await api(base, path, { method, ...(body ? { body } : {}) });
      assertErrorBody(r, 401, `${method} ${path}`);
    }
    // A key of the right shape that nobody registered, or a key of the wrong shape, is no credential either.
    assertErrorBody(await api(base, '/api/users/me', { apiKey: 'API-NOSUCHKEY00000000000000000000' }), 401, 'unknown API key');
    assertErrorBody(await api(base, '/api/users/me', { apiKey: 'hello' }), 401, 'malformed API key');
    assertErrorBody(await api(base, '/api/users/me', { cookie: 'OctopusIdentificationToken=forged.signature' }), 401, 'forged session cookie');
    assert.equal((await nodeState()).IsInMaintenanceMode, false, 'the unauthenticated PUT changed nothing');
  });

  it('sends the Octopus-Node header on every response: success, errors and unknown routes', async () => {
    const responses = [
      await api(base, '/api'),
      await api(base, '/'),
      await api(base, '/api/octopusservernodes/summary', { apiKey: ADMIN_API_KEY }),
      await api(base, '/api/no-such-route', { apiKey: ADMIN_API_KEY }),
      await api(base, '/no-such-page'),
      await api(base, '/api/octopusservernodes/OctopusServerNodes-nobody', { apiKey: ADMIN_API_KEY }),
      await api(base, '/api/users/me'),
    ];
    for (const r of responses) assert.equal(r.headers.get('octopus-node'), 'solo', `status ${r.status}`);
    assertErrorBody(responses[3]!, 404, 'unknown API route');
    assertErrorBody(responses[5]!, 404, 'unknown node');
  });

  it('answers malformed JSON with 400 and the error body, never a stack trace', async () => {
    const bad = ['{"Username":', '{not json}', '', '[1,2', 'null x'];
    for (const rawBody of bad) {
      assertErrorBody(await api(base, '/api/users/login', { method: 'POST', rawBody }), 400, `login with ${JSON.stringify(rawBody)}`);
      assertErrorBody(await api(base, `/api/octopusservernodes/${NODE_ID}`, { method: 'PUT', rawBody, apiKey: ADMIN_API_KEY }), 400, `PUT node with ${JSON.stringify(rawBody)}`);
      assertErrorBody(await api(base, `/api/users/${adminId}/apikeys`, { method: 'POST', rawBody, apiKey: ADMIN_API_KEY }), 400, `apikeys with ${JSON.stringify(rawBody)}`);
    }
    assert.deepEqual(await nodeState(), { MaxConcurrentTasks: 5, IsInMaintenanceMode: false });
  });

  it('refuses wrong types on PUT /api/octopusservernodes/{id} with 400 and changes nothing', async () => {
    const before = await nodeState();
    const bodies: unknown[] = [
      { MaxConcurrentTasks: '5' }, { MaxConcurrentTasks: -1 }, { MaxConcurrentTasks: 1.5 }, { MaxConcurrentTasks: null },
      { MaxConcurrentTasks: 1_000_000 }, { IsInMaintenanceMode: 'yes' }, { IsInMaintenanceMode: 1 }, { IsInMaintenanceMode: 'true' },
      // One good field with one bad one: the good one must not be applied either.
      { MaxConcurrentTasks: 2, IsInMaintenanceMode: 'yes' }, { MaxConcurrentTasks: '7', IsInMaintenanceMode: true },
      [], 'text', 5, true,
    ];
    for (const body of bodies) {
      const r = await api(base, `/api/octopusservernodes/${NODE_ID}`, { method: 'PUT', body, apiKey: ADMIN_API_KEY });
      assertErrorBody(r, 400, `PUT node ${JSON.stringify(body)}`);
    }
    assert.deepEqual(await nodeState(), before);
    assert.equal((await api(base, '/api/octopusservernodes/ping')).status, 200, 'still not draining');
  });

  it('refuses wrong types on login and API-key creation with 400 and creates nothing', async () => {
    for (const body of [{ Username: 5, Password: ADMIN_PASSWORD }, { Username: 'admin', Password: 12345678 }, { Username: 'admin' }, {}, [], { Username: ['admin'], Password: ADMIN_PASSWORD }]) {
      const r = await api(base, '/api/users/login', { body });
      assertErrorBody(r, 400, `login ${JSON.stringify(body)}`);
      assert.equal(r.headers.get('set-cookie'), null, 'no session for a bad login request');
    }
    const keysBefore = (await adminQuery<{ n: number }>('SELECT count(*)::int AS n FROM api_keys', [], c.databaseUrl)).rows[0]!.n;
    for (const body of [{ Purpose: 7 }, { Purpose: null }, { Purpose: ['a'] }, {}, 'purpose', [{ Purpose: 'x' }]]) {
      const r = await api(base, `/api/users/${adminId}/apikeys`, { body, apiKey: ADMIN_API_KEY });
      assertErrorBody(r, 400, `apikeys ${JSON.stringify(body)}`);
    }
    const keysAfter = (await adminQuery<{ n: number }>('SELECT count(*)::int AS n FROM api_keys', [], c.databaseUrl)).rows[0]!.n;
    assert.equal(keysAfter, keysBefore);
  });

  it('refuses bad query parameters with 400', async () => {
    for (const q of ['take=abc', 'take=-1', 'skip=abc', 'skip=-5', 'take=1.5', 'skip=99999999999999999999']) {
      assertErrorBody(await api(base, `/api/octopusservernodes?${q}`, { apiKey: ADMIN_API_KEY }), 400, `nodes?${q}`);
      assertErrorBody(await api(base, `/api/tasks?${q}`, { apiKey: ADMIN_API_KEY }), 400, `tasks?${q}`);
    }
    const ok = await api(base, '/api/octopusservernodes?skip=0&take=1', { apiKey: ADMIN_API_KEY });
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.body.Items.map((n: any) => n.Id), [NODE_ID]);
    const past = await api(base, '/api/octopusservernodes?skip=1&take=1', { apiKey: ADMIN_API_KEY });
    assert.equal(past.status, 200);
    assert.deepEqual(past.body.Items, [], 'skip past the only node leaves no items');
    assert.equal(past.body.TotalResults, 1);
  });

  it('pages the task list: take=2 over five known tasks gives pages of 2, 2 and 1, newest first, each task once', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await queueTask(node, { Name: 'Noop' })).Id);
    const newestFirst = [...ids].reverse();
    const q = `ids=${ids.join(',')}`;
    const seen: string[] = [];
    for (const [skip, expected] of [[0, newestFirst.slice(0, 2)], [2, newestFirst.slice(2, 4)], [4, newestFirst.slice(4)], [6, []]] as const) {
      const r = await api(base, `/api/tasks?${q}&skip=${skip}&take=2`, { apiKey: ADMIN_API_KEY });
      assert.equal(r.status, 200);
      assert.deepEqual(r.body.Items.map((t: any) => t.Id), expected, `the page at skip=${skip}`);
      assert.equal(r.body.TotalResults, 5, `TotalResults at skip=${skip}`);
      assert.equal(r.body.ItemsPerPage, 2);
      assert.equal(r.body.NumberOfPages, 3);
      assert.equal(r.body.LastPageNumber, 2);
      assert.equal(r.body.Links['Page.Current'], `/api/tasks?skip=${skip}&take=2`);
      assert.equal(r.body.Links['Page.Last'], '/api/tasks?skip=4&take=2');
      seen.push(...r.body.Items.map((t: any) => t.Id));
    }
    assert.deepEqual(seen, newestFirst, 'the pages together hold every task exactly once');
    // The same through the space-scoped route.
    const spaced = await api(base, `/api/Spaces-1/tasks?${q}&skip=2&take=2`, { apiKey: ADMIN_API_KEY });
    assert.deepEqual(spaced.body.Items.map((t: any) => t.Id), newestFirst.slice(2, 4));
    // take=0 answers the count only: no items, the same total.
    const count = await api(base, `/api/tasks?${q}&take=0`, { apiKey: ADMIN_API_KEY });
    assert.equal(count.status, 200);
    assert.deepEqual(count.body.Items, []);
    assert.equal(count.body.TotalResults, 5);
    assert.equal(count.body.ItemsPerPage, 0);
    // Without take, one default page of 30 holds them all.
    const all = await api(base, `/api/tasks?${q}`, { apiKey: ADMIN_API_KEY });
    assert.deepEqual(all.body.Items.map((t: any) => t.Id), newestFirst);
    assert.equal(all.body.ItemsPerPage, 30);
    assert.equal(all.body.NumberOfPages, 1);
    assert.equal(all.body.LastPageNumber, 0);
  });

  it('answers odd paths, odd ids and oversized bodies with a 4xx and the error body, never a 500', async () => {
    const cases: [string, string, { body?: unknown; rawBody?: string }][] = [
      ['GET', '/api/users/Users-1%00', {}],
      ['GET', '/api/octopusservernodes/a%00', {}],
      ['GET', '/api/tasks?ids=%00', {}],
      ['GET', '/api/tasks?node=a%00', {}],
      ['POST', '/api/users/login', { body: { Username: 'ad\u0000min', Password: 'x\u0000xxxxxxxx' } }],
      ['POST', `/api/users/Users-1/apikeys`, { body: { Purpose: 'nul \u0000 inside' } }],
      ['GET', '/api/tasks/ServerTasks-999999', {}],
      ['GET', "/api/tasks/1' OR '1'='1", {}],
      ['PUT', '/api/octopusservernodes/OctopusServerNodes-nobody', { body: { MaxConcurrentTasks: 1 } }],
      ['POST', '/api/users/Users-nobody/apikeys', { body: { Purpose: 'x' } }],
      ['DELETE', '/api/octopusservernodes/OctopusServerNodes-nobody', {}],
    ];
    for (const [method, path, o] of cases) {
      const r = await api(base, path, { method, ...o, apiKey: ADMIN_API_KEY });
      assert.ok(r.status >= 400 && r.status < 500, `${method} ${path.slice(0, 60)} answered ${r.status}`);
      assertErrorBody(r, r.status, `${method} ${path.slice(0, 60)}`);
    }
    // A 2 MiB body (over the 1 MiB limit) is refused from its length, before it is read.
    const big = await apiAnnouncingBody(base, `/api/octopusservernodes/${NODE_ID}`, 'PUT', 2 * 1024 * 1024, ADMIN_API_KEY);
    assert.equal(big.status, 413);
    assertErrorBody(big, 413, 'PUT node with a 2 MiB body');
    assert.deepEqual(await nodeState(), { MaxConcurrentTasks: 5, IsInMaintenanceMode: false });
  });

  it('cannot be tricked past authentication by percent-encoding or case in the path', async () => {
    const before = (await api(base, '/api/tasks?take=0', { apiKey: ADMIN_API_KEY })).body.TotalResults;
    assert.equal(typeof before, 'number');
    for (const [method, path] of [['POST', '/%61pi/tasks'], ['POST', '//api/tasks'], ['POST', '/API/tasks'], ['GET', '/%61pi/tasks'], ['GET', '/%61%70%69/octopusservernodes'], ['GET', '/api/%74asks'], ['GET', '//api/tasks'], ['GET', '/API/tasks']] as const) {
      const r = await api(base, path, { method, ...(method === 'POST' ? { body: { Name: 'AdHocScript', Arguments: { ScriptBody: 'id' } } } : {}) });
      assert.ok(r.status === 401 || r.status === 404, `${method} ${path} answered ${r.status}`);
    }
    const r = await api(base, '/api/tasks?take=1000', { apiKey: ADMIN_API_KEY });
    assert.equal(r.body.TotalResults, before, 'no task was queued');
    assert.equal(r.body.Items.length, before, 'the list holds every task');
    assert.ok(r.body.Items.every((t: any) => t.Name !== 'AdHocScript' || t.Arguments.ScriptBody !== 'id'), 'no script was queued');
  });

  it('treats a malformed session cookie as no cookie', async () => {
    assert.equal((await api(base, '/api', { cookie: 'OctopusIdentificationToken=%E0%A4%A' })).status, 200);
    assert.equal((await api(base, '/api/users/me', { cookie: 'OctopusIdentificationToken=%E0%A4%A' })).status, 401);
  });

  it('answers a badly encoded path or an over-long id with a 4xx in the Octopus error body', async () => {
    for (const path of ['/api/users/%ZZ', '/api/octopusservernodes/%E0%A4%A', `/api/octopusservernodes/${'x'.repeat(5000)}`]) {
      const r = await api(base, path, { apiKey: ADMIN_API_KEY });
      assert.ok(r.status >= 400 && r.status < 500, `${path.slice(0, 60)} answered ${r.status}`);
      assertErrorBody(r, r.status, path.slice(0, 60));
    }
  });

  it('answers a wrong password or an unknown user with 401, the same way', async () => {
    const wrong = await api(base, '/api/users/login', { body: { Username: 'admin', Password: 'not-the-password' } });
    const unknown = await api(base, '/api/users/login', { body: { Username: 'nobody', Password: 'not-the-password' } });
    assertErrorBody(wrong, 401, 'wrong password');
    assertErrorBody(unknown, 401, 'unknown user');
    assert.equal(wrong.body.ErrorMessage, unknown.body.ErrorMessage, 'the answer does not reveal which user names exist');
    assert.equal(wrong.headers.get('set-cookie'), null);
    const right = await api(base, '/api/users/login', { body: { Username: 'admin', Password: ADMIN_PASSWORD } });
    assert.equal(right.status, 200);
    assert.match(right.headers.get('set-cookie') ?? '', /HttpOnly/);
  });

  it('returns a new API key once; the list never shows it, and the key signs in', async () => {
    const created = await api(base, `/api/users/${adminId}/apikeys`, { body: { Purpose: 'deploy script' }, apiKey: ADMIN_API_KEY });
    assert.equal(created.status, 201);
    const key = created.body.ApiKey as string;
    assert.match(key, /^API-[A-Z0-9]{16,64}$/);
    assert.equal(created.body.Purpose, 'deploy script');
    const list = await api(base, `/api/users/${adminId}/apikeys`, { apiKey: ADMIN_API_KEY });
    assert.equal(list.status, 200);
    const listed = (list.body.Items as any[]).find((k) => k.Id === created.body.Id);
    assert.ok(listed, 'the new key is listed');
    assert.equal(listed.Purpose, 'deploy script');
    assert.ok(!JSON.stringify(list.body).includes(key), 'the list never contains a key');
    assert.ok(list.body.Items.length >= 2, 'the admin key and the new key are listed');
    for (const k of list.body.Items as any[]) assert.equal(k.ApiKey, undefined);
    const me = await api(base, '/api/users/me', { apiKey: key });
    assert.equal(me.status, 200);
    assert.equal(me.body.Username, 'admin');
    const stored = await adminQuery<{ row: string }>('SELECT row_to_json(k)::text AS row FROM api_keys k', [], c.databaseUrl);
    assert.ok(stored.rows.length >= 2, 'the admin key and the new key are stored');
    for (const r of stored.rows) assert.ok(!r.row.includes(key) && !r.row.includes(key.slice(4)), 'the database holds only the hash');
  });

  describe('a user who is not an administrator', () => {
    let userKey: string;
    const userId = 'Users-900';

    before(async () => {
      // Inserted directly, as a row written before users had the management API (users.test.ts covers that API); its key comes through the API.
      await adminQuery(`INSERT INTO users (id, username, display_name, is_admin) VALUES ($1, 'viewer', 'Viewer', false)`, [userId], c.databaseUrl);
      const k = await api(base, `/api/users/${userId}/apikeys`, { body: { Purpose: 'viewer key' }, apiKey: ADMIN_API_KEY });
      assert.equal(k.status, 201);
      userKey = k.body.ApiKey;
    });

    it('may read the nodes but may not change or delete them (403, nothing changed)', async () => {
      assert.equal((await api(base, '/api/users/me', { apiKey: userKey })).body.Username, 'viewer');
      assert.equal((await api(base, '/api/octopusservernodes/summary', { apiKey: userKey })).status, 200);
      const before = await nodeState();
      assertErrorBody(await api(base, `/api/octopusservernodes/${NODE_ID}`, { method: 'PUT', body: { IsInMaintenanceMode: true, MaxConcurrentTasks: 1 }, apiKey: userKey }), 403, 'PUT node as non-admin');
      assertErrorBody(await api(base, `/api/octopusservernodes/${NODE_ID}`, { method: 'DELETE', apiKey: userKey }), 403, 'DELETE node as non-admin');
      assert.deepEqual(await nodeState(), before);
    });

    it('may not queue or re-run an ad-hoc script (403, nothing queued), but may queue a Noop', async () => {
      const before = (await api(base, '/api/tasks?take=0', { apiKey: ADMIN_API_KEY })).body.TotalResults;
      assertErrorBody(await api(base, '/api/tasks', { body: { Name: 'AdHocScript', Arguments: { ScriptBody: 'id' } }, apiKey: userKey }), 403, 'ad-hoc script as non-admin');
      assert.equal((await api(base, '/api/tasks?take=0', { apiKey: ADMIN_API_KEY })).body.TotalResults, before);
      assert.equal((await api(base, '/api/tasks', { body: { Name: 'Noop' }, apiKey: userKey })).status, 201);
    });

    it("may not create API keys for another user", async () => {
      assertErrorBody(await api(base, `/api/users/${adminId}/apikeys`, { body: { Purpose: 'steal' }, apiKey: userKey }), 403, 'apikey for admin');
      assertErrorBody(await api(base, `/api/users/${adminId}/apikeys`, { apiKey: userKey }), 403, 'list admin keys');
      const own = await api(base, `/api/users/${userId}/apikeys`, { body: { Purpose: 'mine' }, apiKey: userKey });
      assert.equal(own.status, 201);
    });
  });

  it('refuses a change made with the session cookie unless it carries the anti-forgery header, whatever its body', async () => {
    const { cookie, csrf } = await signIn(base, 'admin', ADMIN_PASSWORD);
    const before = await nodeState();
    // JSON too: the token, not the content type, is what a cross-site page cannot send.
    for (const contentType of ['application/json', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const put = await api(base, `/api/octopusservernodes/${NODE_ID}`, { method: 'PUT', rawBody: '{"IsInMaintenanceMode":true}', contentType, cookie });
      assertErrorBody(put, 403, `PUT as ${contentType} without the header`);
      assert.match(put.body.ErrorMessage, /X-Octopus-Csrf-Token/, 'the refusal names the header');
      const logout = await api(base, '/api/users/logout', { method: 'POST', rawBody: 'x=1', contentType, cookie });
      assertErrorBody(logout, 403, `logout as ${contentType} without the header`);
    }
    const wrong = await api(base, `/api/octopusservernodes/${NODE_ID}`, { method: 'PUT', body: { MaxConcurrentTasks: 4 }, cookie, csrf: csrf.slice(0, -1) + (csrf.endsWith('A') ? 'B' : 'A') });
    assertErrorBody(wrong, 403, 'PUT with a wrong token');
    assert.deepEqual(await nodeState(), before);
    assert.equal((await api(base, '/api/users/me', { cookie })).status, 200, 'the refused logout did not end the session');
    // With the token the same change is accepted.
    const json = await api(base, `/api/octopusservernodes/${NODE_ID}`, { method: 'PUT', body: { MaxConcurrentTasks: 4 }, cookie, csrf });
    assert.equal(json.status, 200);
    assert.equal(json.body.MaxConcurrentTasks, 4);
    assert.equal((await api(base, `/api/octopusservernodes/${NODE_ID}`, { method: 'PUT', body: { MaxConcurrentTasks: 5 }, cookie, csrf })).status, 200);
  });
});
