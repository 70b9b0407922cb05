import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  ADMIN_API_KEY, ADMIN_PASSWORD, adminQuery, api, cuttle, must, readyCluster, signIn, startNode, waitFor,
  type ApiResponse, type NodeProcess, type TestCluster,
} from './helpers.js';

const K = { apiKey: ADMIN_API_KEY };

/** Octopus's error body with the status expected. */
function assertError(r: ApiResponse, status: number, what: string): void {
  assert.equal(r.status, status, `${what}: status (body ${JSON.stringify(r.body)})`);
  assert.equal(typeof r.body.ErrorMessage, 'string', `${what}: ErrorMessage`);
  assert.ok(Array.isArray(r.body.Errors) && r.body.Errors.length > 0, `${what}: Errors`);
}

async function countUsers(c: TestCluster): Promise<number> {
  return (await adminQuery<{ n: number }>('SELECT count(*)::int AS n FROM users', [], c.databaseUrl)).rows[0]!.n;
}

describe('users managed by an administrator, on a two-node cluster', () => {
  let c: TestCluster;
  let a: NodeProcess;
  let b: NodeProcess;
  let adminId: string;

  before(async () => {
    c = await readyCluster(['users-a', 'users-b']);
    [a, b] = await Promise.all([startNode(c.homes[0]!, 'users-a'), startNode(c.homes[1]!, 'users-b')]);
    adminId = (await api(a.url, '/api/users/me', K)).body.Id;
  });
  after(async () => { await Promise.all([a.kill('SIGTERM'), b.kill('SIGTERM')]); });

  async function create(doc: object): Promise<any> {
    const r = await api(a.url, '/api/users', { ...K, body: doc });
    assert.equal(r.status, 201, `creating ${JSON.stringify(doc)}: ${JSON.stringify(r.body)}`);
    return r.body;
  }

  async function keyFor(userId: string): Promise<string> {
    const r = await api(a.url, `/api/users/${userId}/apikeys`, { ...K, body: { Purpose: 'test' } });
    assert.equal(r.status, 201);
    return r.body.ApiKey as string;
  }

  it('creates, reads on the other node, changes and deletes a user in Octopus shapes, and never returns its password', async () => {
    const password = 'lovelace-1815';
    const created = await create({ Username: 'ada', DisplayName: 'Ada Lovelace', EmailAddress: 'ada@example.com', Password: password });
    assert.match(created.Id, /^Users-\d+$/);
    assert.deepEqual(
      { Username: created.Username, DisplayName: created.DisplayName, EmailAddress: created.EmailAddress, IsActive: created.IsActive, IsService: created.IsService, CanPasswordBeEdited: created.CanPasswordBeEdited },
      { Username: 'ada', DisplayName: 'Ada Lovelace', EmailAddress: 'ada@example.com', IsActive: true, IsService: false, CanPasswordBeEdited: true });
    assert.equal(created.Links.Self, `/api/users/${created.Id}`);
    const read = await api(b.url, `/api/users/${created.Id}`, K);
    assert.equal(read.status, 200);
    assert.equal(read.body.Username, 'ada');
    assert.equal((await signIn(b.url, 'ada', password)).csrf.length > 0, true, 'the new user signs in on the other node');

    // The document read back, changed and sent whole (Id, Links, Password: null and all) changes what it says.
    const changed = await api(b.url, `/api/users/${created.Id}`, { ...K, method: 'PUT', body: { ...read.body, DisplayName: 'Countess of Lovelace', EmailAddress: 'ada@lovelace.example', Password: null } });
    assert.equal(changed.status, 200, JSON.stringify(changed.body));
    assert.equal(changed.body.DisplayName, 'Countess of Lovelace');
    assert.equal(changed.body.EmailAddress, 'ada@lovelace.example');
    assert.equal(changed.body.LastModifiedBy, 'admin');
    await signIn(a.url, 'ada', password); // Password: null kept the password

    const newPassword = 'analytical-engine';
    assert.equal((await api(a.url, `/api/users/${created.Id}`, { ...K, method: 'PUT', body: { Password: newPassword } })).status, 200);
    assert.equal((await api(b.url, '/api/users/login', { body: { Username: 'ada', Password: password } })).status, 401, 'the old password no longer works');
    await signIn(b.url, 'ada', newPassword);

    for (const r of [created, read.body, changed.body]) {
      assert.equal(r.Password, undefined, 'no Password field');
      assert.ok(!JSON.stringify(r).includes(password) && !JSON.stringify(r).includes('scrypt'), 'neither the password nor its hash');
    }
    const stored = await adminQuery<{ row: string }>('SELECT row_to_json(u)::text AS row FROM users u WHERE id = $1', [created.Id], c.databaseUrl);
    assert.ok(!stored.rows[0]!.row.includes(newPassword), 'the database holds only the hash');

    assert.equal((await api(b.url, `/api/users/${created.Id}`, { ...K, method: 'DELETE' })).status, 200);
    assertError(await api(a.url, `/api/users/${created.Id}`, K), 404, 'a deleted user');
    assert.equal((await api(a.url, '/api/users/login', { body: { Username: 'ada', Password: newPassword } })).status, 401, 'a deleted user cannot sign in');
    assertError(await api(a.url, `/api/users/${created.Id}`, { ...K, method: 'DELETE' }), 404, 'deleting twice');
  });

  it('lists users as an Octopus collection, by page, by ids and by a filter on name, display name or email', async () => {
    const made = [];
    for (const [u, d, e] of [['list-one', 'Grace Hopper', 'grace@navy.example'], ['list-two', 'Alan Turing', ''], ['list-three', 'Edsger Dijkstra', 'ewd@tue.example']] as const) {
      made.push(await create({ Username: u, DisplayName: d, EmailAddress: e, Password: `${u}-password` }));
    }
    const all = await api(a.url, '/api/users?take=1000', K);
    assert.equal(all.status, 200);
    assert.equal(all.body.ItemType, 'User');
    assert.equal(all.body.TotalResults, all.body.Items.length);
    assert.equal(all.body.TotalResults, await countUsers(c));
    const names = all.body.Items.map((u: any) => u.Username);
    const lower = names.map((n: string) => n.toLowerCase());
    assert.deepEqual(lower, [...lower].sort(), 'ordered by user name, ignoring case');

    const page = await api(b.url, '/api/users?skip=1&take=2', K);
    assert.deepEqual(page.body.Items.map((u: any) => u.Username), names.slice(1, 3));
    assert.equal(page.body.TotalResults, names.length);
    assert.equal(page.body.ItemsPerPage, 2);
    assert.equal(page.body.NumberOfPages, Math.ceil(names.length / 2));

    const byIds = await api(a.url, `/api/users?ids=${made[0].Id},${made[2].Id}`, K);
    assert.deepEqual(byIds.body.Items.map((u: any) => u.Id).sort(), [made[0].Id, made[2].Id].sort());
    assert.equal(byIds.body.TotalResults, 2);
    assert.deepEqual((await api(a.url, '/api/users?filter=TURING', K)).body.Items.map((u: any) => u.Username), ['list-two'], 'display name, any case');
    assert.deepEqual((await api(a.url, '/api/users?filter=navy.example', K)).body.Items.map((u: any) => u.Username), ['list-one'], 'email');
    assert.deepEqual((await api(a.url, '/api/users?filter=list-th', K)).body.Items.map((u: any) => u.Username), ['list-three'], 'user name');
    const none = await api(a.url, '/api/users?filter=nobody-matches-this', K);
    assert.deepEqual([none.body.Items, none.body.TotalResults], [[], 0]);
    const count = await api(a.url, '/api/users?take=0', K);
    assert.deepEqual([count.body.Items, count.body.TotalResults], [[], names.length]);
    assert.equal((await api(b.url, '/api/users/all', K)).body.length, names.length);
  });

  it('refuses bad user documents with 400 naming every problem, and creates nothing', async () => {
    const before = await countUsers(c);
    const cases: [object | unknown[], RegExp][] = [
      [{ Username: 'shorty', Password: 'seven77' }, /8 to 1024 characters/],
      [{ Username: 'SameAsName', Password: 'sameasname' }, /must not be the user name/],
      [{ Username: 'nopass' }, /Password is required/],
      [{ Username: 'nopass', Password: '' }, /Password is required/],
      [{ Username: 'bad name', Password: 'long-enough-1' }, /Username "bad name" is not valid/],
      [{ Username: 'ok-name', Password: 'long-enough-1', EmailAddress: 'not-an-email' }, /EmailAddress .* is not an email address/],
      [{ Username: 'ok-name', Password: 'long-enough-1', DisplayName: '' }, /DisplayName must hold 1 to 200 characters/],
      [{ Username: 'ok-name', Password: 'long-enough-1', IsActive: 'yes' }, /IsActive must be a boolean/],
      [{ Username: 7, Password: 'long-enough-1' }, /Username must be a string/],
      [{ Username: 'robot-pw', IsService: true, Password: 'long-enough-1' }, /service user has no password/],
      [{ DisplayName: 'No Name', Password: 'long-enough-1' }, /Username is required/],
      [[{ Username: 'in-a-list', Password: 'long-enough-1' }], /must be a user document/],
    ];
    for (const [body, expected] of cases) {
      const r = await api(b.url, '/api/users', { ...K, body });
      assertError(r, 400, `create ${JSON.stringify(body)}`);
      assert.ok(r.body.Errors.some((e: string) => expected.test(e)), `create ${JSON.stringify(body)}: ${JSON.stringify(r.body.Errors)} names ${expected}`);
    }
    // Several problems at once: each is named.
    const many = await api(a.url, '/api/users', { ...K, body: { Username: 'bad name', Password: 'short', EmailAddress: 'x' } });
    assertError(many, 400, 'three problems');
    assert.equal(many.body.Errors.length, 3, JSON.stringify(many.body.Errors));
    assert.equal(await countUsers(c), before, 'nothing was created');

    // A change is checked the same way, and a refused change changes nothing.
    const u = await create({ Username: 'checked', Password: 'checked-password' });
    const changes: [object, RegExp][] = [
      [{ Password: 'short' }, /8 to 1024/],
      // Checked against the new name when both change.
      [{ Username: 'checked-user', Password: 'Checked-User' }, /must not be the user name/],
      [{ Username: 'bad name' }, /Username "bad name" is not valid/],
      [{ IsService: 'no' }, /IsService must be a boolean/],
      [{ IsService: true, Password: 'another-password' }, /service user has no password/],
    ];
    for (const [body, expected] of changes) {
      const r = await api(a.url, `/api/users/${u.Id}`, { ...K, method: 'PUT', body });
      assertError(r, 400, `change ${JSON.stringify(body)}`);
      assert.ok(r.body.Errors.some((e: string) => expected.test(e)), `change ${JSON.stringify(body)}: ${JSON.stringify(r.body.Errors)}`);
    }
    await signIn(b.url, 'checked', 'checked-password');
    assert.equal((await api(a.url, `/api/users/${u.Id}`, K)).body.Username, 'checked');
    assertError(await api(a.url, '/api/users/Users-999999', { ...K, method: 'PUT', body: { DisplayName: 'x' } }), 404, 'changing nobody');
  });

  it('binds property names in any case, as Octopus does', async () => {
    const r = await api(a.url, '/api/users', { ...K, body: { username: 'lower-case', displayname: 'Lower Case', PASSWORD: 'lower-case-pw', isactive: true } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.DisplayName, 'Lower Case');
    await signIn(b.url, 'lower-case', 'lower-case-pw');
  });

  it('refuses a second user with the same user name in any case (409), on create and on rename', async () => {
    const first = await create({ Username: 'Twin', Password: 'twin-password' });
    const before = await countUsers(c);
    for (const name of ['twin', 'TWIN', 'Twin']) {
      const r = await api(b.url, '/api/users', { ...K, body: { Username: name, Password: 'other-password' } });
      assertError(r, 409, `create ${name}`);
      assert.match(r.body.ErrorMessage, /already exists/);
    }
    assert.equal(await countUsers(c), before);
    const other = await create({ Username: 'not-twin', Password: 'not-twin-password' });
    assertError(await api(a.url, `/api/users/${other.Id}`, { ...K, method: 'PUT', body: { Username: 'tWiN' } }), 409, 'rename onto Twin');
    assert.equal((await api(a.url, `/api/users/${other.Id}`, K)).body.Username, 'not-twin');
    // Renaming a user to another case of its own name is no clash.
    assert.equal((await api(a.url, `/api/users/${first.Id}`, { ...K, method: 'PUT', body: { Username: 'TWIN' } })).body.Username, 'TWIN');
  });

  it('gives a service user no password: it cannot sign in with one, but its API keys work', async () => {
    const robot = await create({ Username: 'robot', DisplayName: 'Deploy robot', IsService: true });
    assert.equal(robot.IsService, true);
    assert.equal(robot.CanPasswordBeEdited, false);
    const stored = await adminQuery<{ password_hash: string | null }>('SELECT password_hash FROM users WHERE id = $1', [robot.Id], c.databaseUrl);
    assert.equal(stored.rows[0]!.password_hash, null);
    const key = await keyFor(robot.Id);
    assert.equal((await api(b.url, '/api/users/me', { apiKey: key })).body.Username, 'robot');
    assert.equal((await api(a.url, '/api/users/login', { body: { Username: 'robot', Password: 'anything-at-all' } })).status, 401, 'a service user cannot sign in with a password');
    // A user who signed in with a password and becomes a service user loses the password and its sessions.
    const person = await create({ Username: 'becomes-robot', Password: 'becomes-robot-pw' });
    const s = await signIn(a.url, 'becomes-robot', 'becomes-robot-pw');
    assert.equal((await api(a.url, `/api/users/${person.Id}`, { ...K, method: 'PUT', body: { IsService: true } })).status, 200);
    assert.equal((await api(b.url, '/api/users/me', { cookie: s.cookie })).status, 401, 'its session ended');
    assert.equal((await api(b.url, '/api/users/login', { body: { Username: 'becomes-robot', Password: 'becomes-robot-pw' } })).status, 401);
    // And back again only with a password.
    assertError(await api(a.url, `/api/users/${person.Id}`, { ...K, method: 'PUT', body: { IsService: false } }), 400, 'back to a person without a password');
    assert.equal((await api(a.url, `/api/users/${person.Id}`, { ...K, method: 'PUT', body: { IsService: false, Password: 'a-new-password' } })).status, 200);
    await signIn(b.url, 'becomes-robot', 'a-new-password');
  });

  it('an inactive user can neither sign in, nor use an API key, nor keep a session, on either node', async () => {
    const password = 'bob-password-1';
    const bob = await create({ Username: 'bob', Password: password });
    const key = await keyFor(bob.Id);
    const session = await signIn(a.url, 'bob', password);
    // Both credentials work on node B first (B now caches the key).
    assert.equal((await api(b.url, '/api/users/me', { apiKey: key })).status, 200);
    assert.equal((await api(b.url, '/api/users/me', { cookie: session.cookie })).status, 200);

    const off = await api(a.url, `/api/users/${bob.Id}`, { ...K, method: 'PUT', body: { IsActive: false } });
    assert.equal(off.status, 200);
    assert.equal(off.body.IsActive, false);
    // Sessions are looked up on every request: refused at once, on both nodes.
    assert.equal((await api(b.url, '/api/users/me', { cookie: session.cookie })).status, 401);
    assert.equal((await api(a.url, '/api/tasks', { cookie: session.cookie })).status, 401);
    assert.equal((await api(a.url, '/api/users/me', { apiKey: key })).status, 401, 'the key on the node that made the change');
    // Node B forgets its cached key when node A's change is notified (its cache would keep it for 5 s
    // without the notification: the wait stops short of that).
    await waitFor('node B to refuse the inactive user\'s cached key', async () => (await api(b.url, '/api/users/me', { apiKey: key })).status === 401, 4_000);
    assert.equal((await api(b.url, '/api/tasks', { apiKey: key, body: { Name: 'Noop' } })).status, 401, 'nor queue anything with it');
    const login = await api(b.url, '/api/users/login', { body: { Username: 'bob', Password: password } });
    assertError(login, 401, 'sign-in of an inactive user');
    const wrong = await api(b.url, '/api/users/login', { body: { Username: 'nobody-at-all', Password: password } });
    assert.equal(login.body.ErrorMessage, wrong.body.ErrorMessage, 'answered like an unknown user');

    // Active again: the key and a new sign-in work; the session ended by the deactivation stays ended.
    assert.equal((await api(b.url, `/api/users/${bob.Id}`, { ...K, method: 'PUT', body: { IsActive: true } })).status, 200);
    assert.equal((await api(a.url, '/api/users/me', { apiKey: key })).status, 200);
    await signIn(b.url, 'bob', password);
    assert.equal((await api(a.url, '/api/users/me', { cookie: session.cookie })).status, 401, 'the old session was revoked, not suspended');
  });

  it('a revoked API key stops working on every node', async () => {
    const u = await create({ Username: 'revoker', Password: 'revoker-password' });
    const created = await api(a.url, `/api/users/${u.Id}/apikeys`, { ...K, body: { Purpose: 'short-lived' } });
    const key = created.body.ApiKey as string;
    assert.equal((await api(b.url, '/api/users/me', { apiKey: key })).status, 200);
    // The user revokes it with the key itself.
    assert.equal((await api(a.url, `/api/users/${u.Id}/apikeys/${created.body.Id}`, { apiKey: key, method: 'DELETE' })).status, 200);
    await waitFor('node B to refuse the revoked key', async () => (await api(b.url, '/api/users/me', { apiKey: key })).status === 401, 4_000);
    assertError(await api(a.url, `/api/users/${u.Id}/apikeys/${created.body.Id}`, { ...K, method: 'DELETE' }), 404, 'revoking twice');
  });

  it('refuses to delete or deactivate yourself, and never leaves the cluster without an active administrator', async () => {
    assertError(await api(a.url, `/api/users/${adminId}`, { ...K, method: 'DELETE' }), 400, 'deleting yourself');
    const self = await api(b.url, `/api/users/${adminId}`, { ...K, method: 'PUT', body: { IsActive: false } });
    assertError(self, 400, 'deactivating yourself');
    assert.match(self.body.ErrorMessage, /your own user/);
    assert.equal((await api(a.url, '/api/users/me', K)).body.IsActive, true);

    // Administrators are made with `cuttle admin`; two of them deactivate each other at the same moment through two nodes.
    const bossKey = 'API-BOSSKEY00000000000000000000001';
    must(cuttle(['admin', '--home', c.homes[0]!, '--username', 'boss', '--password', ADMIN_PASSWORD, '--api-key', bossKey]));
    const bossId = (await api(a.url, '/api/users/me', { apiKey: bossKey })).body.Id as string;
    for (let round = 0; round < 3; round++) {
      const [x, y] = await Promise.all([
        api(a.url, `/api/users/${bossId}`, { ...K, method: 'PUT', body: { IsActive: false } }),
        api(b.url, `/api/users/${adminId}`, { apiKey: bossKey, method: 'PUT', body: { IsActive: false } }),
      ]);
      const statuses = [x.status, y.status];
      assert.equal(statuses.filter((s) => s === 200).length, 1, `round ${round}: exactly one deactivation succeeded (${statuses.join(', ')})`);
      const refused = x.status === 200 ? y : x;
      // The loser was either deactivated before it was let in (401), or found its target the last administrator (409).
      assert.ok(refused.status === 401 || refused.status === 409, `round ${round}: the other answered ${refused.status}`);
      if (refused.status === 409) assert.match(refused.body.ErrorMessage, /last active administrator/);
      const active = await adminQuery<{ n: number }>('SELECT count(*)::int AS n FROM users WHERE is_admin AND is_active', [], c.databaseUrl);
      assert.equal(active.rows[0]!.n, 1, `round ${round}: one active administrator is left`);
      must(cuttle(['admin', '--home', c.homes[0]!, '--username', x.status === 200 ? 'boss' : 'admin']));
    }
    // With two active administrators, one may delete the other.
    assert.equal((await api(b.url, `/api/users/${bossId}`, { ...K, method: 'DELETE' })).status, 200);
    await waitFor('its keys to go with it on the other node too', async () => (await api(a.url, '/api/users/me', { apiKey: bossKey })).status === 401, 4_000);
  });

  describe('a user who is not an administrator', () => {
    let carol: any;
    let carolKey: string;
    const password = 'carol-password';

    before(async () => {
      carol = await create({ Username: 'carol', DisplayName: 'Carol', Password: password });
      carolKey = await keyFor(carol.Id);
    });

    it('may read and change only their own user, and may not list, create, change or delete users', async () => {
      const session = await signIn(b.url, 'carol', password);
      const as = [{ apiKey: carolKey }, { cookie: session.cookie, csrf: session.csrf }];
      for (const node of [a, b]) {
        for (const who of as) {
          assert.equal((await api(node.url, '/api/users/me', who)).body.Id, carol.Id);
          assert.equal((await api(node.url, `/api/users/${carol.Id}`, who)).status, 200);
          assert.equal((await api(node.url, `/api/users/${carol.Id}/apikeys`, who)).status, 200);
          assertError(await api(node.url, '/api/users', who), 403, 'list');
          assertError(await api(node.url, '/api/users/all', who), 403, 'all');
          assertError(await api(node.url, `/api/users/${adminId}`, who), 403, 'read the admin');
          assertError(await api(node.url, '/api/users/Users-999999', who), 403, 'read someone who does not exist (no hint either way)');
          assertError(await api(node.url, `/api/users/${adminId}/apikeys`, who), 403, "the admin's keys");
          assertError(await api(node.url, `/api/users/${adminId}/apikeys`, { ...who, body: { Purpose: 'steal' } }), 403, 'a key for the admin');
          assertError(await api(node.url, '/api/users', { ...who, body: { Username: 'carols-friend', Password: 'friend-password' } }), 403, 'create');
          assertError(await api(node.url, `/api/users/${adminId}`, { ...who, method: 'PUT', body: { Password: 'taken-over-1' } }), 403, 'change the admin');
          assertError(await api(node.url, `/api/users/${adminId}`, { ...who, method: 'DELETE' }), 403, 'delete the admin');
          for (const body of [{ Username: 'carol-renamed' }, { IsService: true }, { IsActive: false }]) {
            assertError(await api(node.url, `/api/users/${carol.Id}`, { ...who, method: 'PUT', body }), 403, `change own ${Object.keys(body)[0]}`);
          }
        }
      }
      assert.equal((await api(a.url, '/api/users/me', K)).body.Username, 'admin', 'the admin is unchanged');
      assert.equal(await api(a.url, '/api/users?filter=carols-friend', K).then((r) => r.body.TotalResults), 0);
      // Her own document, read back and sent whole with a new name shown, is hers to change.
      const mine = (await api(a.url, '/api/users/me', { apiKey: carolKey })).body;
      const changed = await api(b.url, `/api/users/${carol.Id}`, { apiKey: carolKey, method: 'PUT', body: { ...mine, DisplayName: 'Carol C.' } });
      assert.equal(changed.status, 200, JSON.stringify(changed.body));
      assert.equal(changed.body.DisplayName, 'Carol C.');
      assert.equal(changed.body.IsRequestor, true);
    });

    it('changing her own password ends her other sessions but not the one she used', async () => {
      const here = await signIn(a.url, 'carol', password);
      const elsewhere = await signIn(b.url, 'carol', password);
      const r = await api(b.url, `/api/users/${carol.Id}`, { cookie: here.cookie, csrf: here.csrf, method: 'PUT', body: { Password: 'carol-new-password' } });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal((await api(a.url, '/api/users/me', { cookie: here.cookie })).status, 200, 'the session she used');
      assert.equal((await api(a.url, '/api/users/me', { cookie: elsewhere.cookie })).status, 401, 'her other session');
      assert.equal((await api(a.url, '/api/users/me', { apiKey: carolKey })).status, 200, 'her API keys stay');
      await signIn(b.url, 'carol', 'carol-new-password');
      assert.equal((await api(b.url, `/api/users/${carol.Id}`, { ...K, method: 'PUT', body: { Password: password } })).status, 200);
    });
  });
});
