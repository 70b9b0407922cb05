import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  ADMIN_API_KEY, ADMIN_PASSWORD, adminQuery, api, cuttle, must, queueTask, readyCluster, signIn, startNode, untilTask, waitFor,
  type ApiResponse, type NodeProcess, type TestCluster,
} from './helpers.js';

const K = { apiKey: ADMIN_API_KEY };
const FINAL = ['Success', 'Failed', 'Canceled', 'TimedOut'];
const LOCKED = /^You have had too many failed login attempts in a short period of time\. Please try again in \d+ (seconds?|minutes)\.$/;
// A short lock so the test sees it end; the count (5) and the window (15 minutes) keep their defaults.
const LOCK_SECONDS = 3;

function login(node: NodeProcess, username: string, password: string): Promise<ApiResponse> {
  return api(node.url, '/api/users/login', { body: { Username: username, Password: password } });
}

function assertCsrfRefusal(r: ApiResponse, what: string): void {
  assert.equal(r.status, 403, `${what}: status (body ${JSON.stringify(r.body)})`);
  assert.match(r.body.ErrorMessage, /X-Octopus-Csrf-Token/, `${what}: names the header`);
  assert.deepEqual(r.body.Errors, [r.body.ErrorMessage], `${what}: Octopus's error body`);
}

describe('sign-in protection on a two-node cluster', () => {
  let c: TestCluster;
  let a: NodeProcess;
  let b: NodeProcess;

  before(async () => {
    c = await readyCluster(['sec-a', 'sec-b']);
    const env = { CUTTLE_SIGN_IN_LOCKOUT_SECONDS: String(LOCK_SECONDS) };
    [a, b] = await Promise.all([startNode(c.homes[0]!, 'sec-a', env), startNode(c.homes[1]!, 'sec-b', env)]);
  });
  after(async () => { await Promise.all([a.kill('SIGTERM'), b.kill('SIGTERM')]); });

  async function createUser(username: string, password: string): Promise<void> {
    assert.equal((await api(a.url, '/api/users', { ...K, body: { Username: username, Password: password } })).status, 201);
  }

  describe('the anti-forgery token', () => {
    it('comes as a readable cookie beside the HttpOnly session cookie, both Secure only when the request came over HTTPS', async () => {
      const plain = await signIn(a.url, 'admin', ADMIN_PASSWORD);
      const [session, csrf] = [plain.setCookies.find((s) => s.startsWith('OctopusIdentificationToken=')), plain.setCookies.find((s) => s.startsWith('Octopus-Csrf-Token='))];
      assert.ok(session && csrf, plain.setCookies.join(' | '));
      for (const attr of ['Path=/', 'SameSite=Lax']) {
        assert.ok(session.split('; ').includes(attr), `session cookie ${attr}: ${session}`);
        assert.ok(csrf.split('; ').includes(attr), `csrf cookie ${attr}: ${csrf}`);
      }
      assert.ok(session.split('; ').includes('HttpOnly'), 'the session cookie is HttpOnly');
      assert.ok(!csrf.split('; ').includes('HttpOnly'), "the token cookie is readable by the portal's script");
      assert.ok(plain.setCookies.every((s) => !s.split('; ').includes('Secure')), 'no Secure over plain HTTP');

      const viaProxy = async (headers: Record<string, string>) => {
        const r = await fetch(`${b.url}/api/users/login`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ Username: 'admin', Password: ADMIN_PASSWORD }) });
        assert.equal(r.status, 200);
        return r.headers.getSetCookie();
      };
      for (const headers of [{ 'x-forwarded-proto': 'https' }, { 'x-forwarded-proto': 'HTTPS, http' }, { forwarded: 'for=192.0.2.60;proto=https;by=203.0.113.43' }] as Record<string, string>[]) {
        const cookies = await viaProxy(headers);
        assert.equal(cookies.length, 2);
        assert.ok(cookies.every((s) => s.split('; ').includes('Secure')), `Secure behind ${JSON.stringify(headers)}: ${cookies.join(' | ')}`);
      }
      for (const headers of [{ 'x-forwarded-proto': 'http' }, { forwarded: 'for=192.0.2.60;proto=http' }] as Record<string, string>[]) {
        assert.ok((await viaProxy(headers)).every((s) => !s.split('; ').includes('Secure')), `not Secure behind ${JSON.stringify(headers)}`);
      }
    });

    it('refuses an empty-body cancel or re-run made with the session cookie alone (a cross-site form), and accepts it with the token from the other node', async () => {
      const session = await signIn(a.url, 'admin', ADMIN_PASSWORD);
      const task = await queueTask(a, { Name: 'AdHocScript', Arguments: { ScriptBody: 'sleep 120' } });
      await untilTask(a, task.Id, (t) => t.State === 'Executing', 'executing', 30_000);
      for (const node of [a, b]) {
        assertCsrfRefusal(await api(node.url, `/api/tasks/${task.Id}/cancel`, { method: 'POST', cookie: session.cookie }), `cancel on ${node.name}, no body`);
        for (const contentType of ['application/x-www-form-urlencoded', 'text/plain', 'multipart/form-data; boundary=x', 'application/json']) {
          assertCsrfRefusal(await api(node.url, `/api/tasks/${task.Id}/cancel`, { method: 'POST', rawBody: '', contentType, cookie: session.cookie }), `cancel on ${node.name}, empty ${contentType}`);
        }
      }
      assert.equal((await api(b.url, `/api/tasks/${task.Id}`, K)).body.State, 'Executing', 'the refused cancels did nothing');
      // Another session's token is no good either.
      const other = await signIn(b.url, 'admin', ADMIN_PASSWORD);
      assertCsrfRefusal(await api(b.url, `/api/tasks/${task.Id}/cancel`, { method: 'POST', cookie: session.cookie, csrf: other.csrf }), 'cancel with another session\'s token');
      // Node A issued the token; node B checks it without asking anyone.
      const cancel = await api(b.url, `/api/tasks/${task.Id}/cancel`, { method: 'POST', cookie: session.cookie, csrf: session.csrf });
      assert.equal(cancel.status, 200, JSON.stringify(cancel.body));
      assert.equal((await untilTask(a, task.Id, (t) => FINAL.includes(t.State), 'cancelled', 30_000)).State, 'Canceled');

      const before = (await api(a.url, `/api/tasks?name=AdHocScript&take=0`, K)).body.TotalResults;
      for (const node of [a, b]) {
        assertCsrfRefusal(await api(node.url, `/api/tasks/rerun/${task.Id}`, { method: 'POST', cookie: session.cookie }), `re-run on ${node.name}`);
        assertCsrfRefusal(await api(node.url, '/api/tasks', { cookie: session.cookie, body: { Name: 'AdHocScript', Arguments: { ScriptBody: 'id' } } }), `queue on ${node.name}`);
      }
      assert.equal((await api(a.url, `/api/tasks?name=AdHocScript&take=0`, K)).body.TotalResults, before, 'nothing was re-run or queued');
      const rerun = await api(b.url, `/api/tasks/rerun/${task.Id}`, { method: 'POST', cookie: session.cookie, csrf: session.csrf });
      assert.equal(rerun.status, 201);
      assert.equal((await api(a.url, `/api/tasks/${rerun.body.Id}/cancel`, { method: 'POST', cookie: session.cookie, csrf: session.csrf })).status, 200);
    });

    it('needs no token for reads or for API-key requests, and logout (which needs it) clears both cookies on every node', async () => {
      const session = await signIn(b.url, 'admin', ADMIN_PASSWORD);
      assert.equal((await api(a.url, '/api/tasks', { cookie: session.cookie })).status, 200, 'a read');
      assert.equal((await api(a.url, '/api/tasks', { ...K, cookie: session.cookie, body: { Name: 'Noop' } })).status, 201, 'an API-key request, even with the cookie');
      assertCsrfRefusal(await api(a.url, '/api/users/logout', { method: 'POST', cookie: session.cookie }), 'logout without the token');
      assert.equal((await api(b.url, '/api/users/me', { cookie: session.cookie })).status, 200, 'the refused logout ended nothing');
      const out = await fetch(`${a.url}/api/users/logout`, { method: 'POST', headers: { cookie: session.cookie, 'X-Octopus-Csrf-Token': session.csrf } });
      assert.equal(out.status, 200);
      const cleared = out.headers.getSetCookie();
      for (const name of ['OctopusIdentificationToken', 'Octopus-Csrf-Token']) {
        const cookie = cleared.find((s) => s.startsWith(`${name}=`));
        assert.ok(cookie, `${name} is cleared: ${cleared.join(' | ')}`);
        assert.ok(cookie.startsWith(`${name}=;`) && cookie.includes('Max-Age=0'), cookie);
      }
      assert.equal((await api(b.url, '/api/users/me', { cookie: session.cookie })).status, 401);
    });
  });

  describe('failed sign-ins', () => {
    it('lock a user name after five failures spread over both nodes: even the right password is refused until the lock ends', async () => {
      await createUser('dave', 'dave-right-password');
      for (let i = 0; i < 5; i++) {
        const r = await login(i % 2 ? b : a, i % 2 ? 'DAVE' : 'dave', `wrong-password-${i}`);
        assert.equal(r.status, 401, `failure ${i + 1}`);
        assert.equal(r.body.ErrorMessage, 'Invalid username or password.');
      }
      for (const node of [a, b]) {
        const r = await login(node, 'dave', 'dave-right-password');
        assert.equal(r.status, 400, `the right password on ${node.name} while locked: ${JSON.stringify(r.body)}`);
        assert.match(r.body.ErrorMessage, LOCKED);
        assert.ok(Number(r.headers.get('retry-after')) >= 1, 'Retry-After');
        assert.equal(r.headers.get('set-cookie'), null, 'no session');
      }
      const lock = await adminQuery<{ username: string }>('SELECT username FROM sign_in_locks', [], c.databaseUrl);
      assert.deepEqual(lock.rows.map((r) => r.username), ['dave'], 'one lock, for the lower-cased name');
      // Logged once as a warning with the name and where the guesses came from, never a password.
      const logs = a.output() + b.output();
      const line = logs.split('\n').find((l) => l.includes('sign-in locked'));
      assert.ok(line, 'the lock-out is logged');
      const entry = JSON.parse(line) as Record<string, unknown>;
      assert.deepEqual([entry.level, entry.username, entry.remoteAddress], [40, 'dave', '127.0.0.1'], line);
      assert.ok(!/wrong-password|dave-right-password/.test(logs), 'no password is ever logged');

      // Attempts while locked do not extend it: it ends after its few seconds, and the right password works again.
      const ok = await waitFor('the lock to end', async () => {
        const r = await login(b, 'dave', 'dave-right-password');
        if (r.status === 400) { assert.match(r.body.ErrorMessage, LOCKED); return false; }
        return r;
      }, 30_000, 250);
      assert.equal(ok.status, 200);
      // A success starts the count again: four more failures do not lock.
      for (let i = 0; i < 4; i++) assert.equal((await login(i % 2 ? a : b, 'dave', 'wrong-again')).status, 401);
      assert.equal((await login(a, 'dave', 'dave-right-password')).status, 200);
    });

    it('count user names that do not exist the same way, so a guesser cannot tell which exist', async () => {
      const answers: ApiResponse[] = [];
      for (let i = 0; i < 5; i++) answers.push(await login(i % 2 ? a : b, ['Ghost', 'GHOST', 'ghost'][i % 3]!, 'whatever-password'));
      assert.ok(answers.every((r) => r.status === 401 && r.body.ErrorMessage === 'Invalid username or password.'));
      const sixth = await login(a, 'ghost', 'whatever-password');
      assert.equal(sixth.status, 400);
      assert.match(sixth.body.ErrorMessage, LOCKED);
    });

    it('check no more than five passwords when twenty guesses arrive at once through both nodes', async () => {
      await createUser('erin', 'erin-right-password');
      const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => login(i % 2 ? a : b, 'erin', `guess-${i}`)));
      const statuses = answers.map((r) => r.status);
      assert.ok(statuses.every((s) => s === 401 || s === 400), statuses.join(', '));
      assert.equal(statuses.filter((s) => s === 401).length, 5, `five passwords checked: ${statuses.join(', ')}`);
      for (const r of answers.filter((x) => x.status === 400)) assert.match(r.body.ErrorMessage, LOCKED);
      assert.equal((await login(b, 'erin', 'erin-right-password')).status, 400, 'locked');
    });

    it('let a locked-out user back in at once when an administrator sets a new password, or `cuttle admin` resets an administrator', async () => {
      await createUser('frank', 'frank-first-password');
      const id = (await api(a.url, '/api/users?filter=frank', K)).body.Items[0].Id as string;
      for (let i = 0; i < 6; i++) await login(i % 2 ? a : b, 'frank', 'not-franks-password');
      const locks = async (name: string) => (await adminQuery('SELECT 1 FROM sign_in_locks WHERE username = $1', [name], c.databaseUrl)).rowCount;
      assert.match((await login(a, 'frank', 'frank-first-password')).body.ErrorMessage, LOCKED);
      assert.equal((await api(b.url, `/api/users/${id}`, { ...K, method: 'PUT', body: { Password: 'frank-second-password' } })).status, 200);
      assert.equal(await locks('frank'), 0, 'the new password removed the lock (it did not merely expire)');
      assert.equal((await login(a, 'frank', 'frank-second-password')).status, 200);

      // The administrator locked out; the operator runs `cuttle admin` on a node's home (no password: it keeps it).
      for (let i = 0; i < 6; i++) await login(i % 2 ? a : b, 'admin', 'not-the-admin-password');
      assert.match((await login(b, 'admin', ADMIN_PASSWORD)).body.ErrorMessage, LOCKED);
      assert.equal(await locks('admin'), 1);
      must(cuttle(['admin', '--home', c.homes[1]!, '--username', 'admin']));
      assert.equal(await locks('admin'), 0, '`cuttle admin` removed the lock');
      assert.equal((await login(b, 'admin', ADMIN_PASSWORD)).status, 200);
    });
  });
});
