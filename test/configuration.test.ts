// What the portal's Configuration area reads besides the resources: a user's permissions, the
// shared-storage locations, and the master key shown to an administrator who enters the password
// again (checked under the sign-in throttle, recorded as an event). Two real nodes.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ADMIN_API_KEY, ADMIN_PASSWORD, api, readyCluster, signIn, startNode, type NodeProcess, type TestCluster } from './helpers.js';

const K = { apiKey: ADMIN_API_KEY };

describe('configuration routes for the portal, on two nodes', () => {
  let c: TestCluster;
  let nodes: NodeProcess[];
  let carolId: string;
  let carolKey: string;

  before(async () => {
    c = await readyCluster(['conf-a', 'conf-b']);
    nodes = await Promise.all([startNode(c.homes[0]!, 'conf-a'), startNode(c.homes[1]!, 'conf-b')]);
    const carol = await api(nodes[0]!.url, '/api/users', { ...K, body: { Username: 'carol', Password: 'carol-password' } });
    assert.equal(carol.status, 201);
    carolId = carol.body.Id;
    carolKey = (await api(nodes[0]!.url, `/api/users/${carolId}/apikeys`, { ...K, body: { Purpose: 'test' } })).body.ApiKey;
  });
  after(async () => {
    await Promise.all(nodes.map((n) => n.kill('SIGTERM')));
  });

  it('tells each user their own permissions, and only administrators those of others', async () => {
    const [a, b] = nodes as [NodeProcess, NodeProcess];
    const admin = await api(b.url, '/api/users/me/permissions', K);
    assert.equal(admin.status, 200);
    assert.equal(admin.body.IsAdministrator, true);
    assert.ok(admin.body.SystemPermissions.includes('AdministerSystem'));
    const mine = await api(a.url, '/api/users/me/permissions', { apiKey: carolKey });
    assert.equal(mine.body.IsAdministrator, false);
    assert.ok(!mine.body.SystemPermissions.includes('AdministerSystem'));
    assert.ok(mine.body.SystemPermissions.includes('TaskView'), 'every user may view tasks');
    assert.equal(mine.body.Id, carolId);
    assert.equal((await api(a.url, `/api/users/${carolId}/permissions`, K)).body.IsAdministrator, false, 'an administrator reads anyone\'s');
    assert.equal((await api(a.url, `/api/users/${admin.body.Id}/permissions`, { apiKey: carolKey })).status, 403);
    assert.equal((await api(a.url, '/api/users/Users-999999/permissions', K)).status, 404);
    assert.equal((await api(a.url, '/api/users/me/permissions')).status, 401);
  });

  it('shows administrators where every shared folder is; nobody else', async () => {
    const r = await api(nodes[1]!.url, '/api/configuration/storage', K);
    assert.equal(r.status, 200);
    assert.equal(r.body.ClusterShared, c.shared);
    assert.equal(r.body.IsConfigured, true);
    for (const f of ['Artifacts', 'TaskLogs', 'Packages', 'Telemetry', 'EventExports', 'Imports']) {
      assert.deepEqual(r.body.Folders[f], { Path: join(c.shared, f), SetIndividually: false });
    }
    assert.match(r.body.HowToChange, /cuttle path/);
    assert.equal((await api(nodes[1]!.url, '/api/configuration/storage', { apiKey: carolKey })).status, 403);
    assert.equal((await api(nodes[1]!.url, '/api/configuration/storage')).status, 401);
  });

  it('shows the master key to an administrator who enters the password again, with an event; refuses anyone else in words', async () => {
    const [a, b] = nodes as [NodeProcess, NodeProcess];
    const path = '/api/configuration/masterkey';
    const wrong = await api(a.url, path, { ...K, body: { Password: 'not-my-password' } });
    assert.equal(wrong.status, 401);
    assert.match(wrong.body.ErrorMessage, /not your password/);
    assert.ok(!JSON.stringify(wrong.body).includes(c.masterKey));
    const missing = await api(a.url, path, { ...K, body: {} });
    assert.equal(missing.status, 400);
    assert.match(missing.body.Errors.join(' '), /Password/);
    assert.equal((await api(a.url, path, { apiKey: carolKey, body: { Password: 'carol-password' } })).status, 403, 'a non-administrator, even with her own password');
    assert.equal((await api(a.url, path, { body: { Password: ADMIN_PASSWORD } })).status, 401, 'nobody signed in');

    // Through the portal's way in: the session cookie and its anti-forgery token, on the other node.
    const s = await signIn(a.url, 'admin', ADMIN_PASSWORD);
    const noToken = await api(b.url, path, { cookie: s.cookie, body: { Password: ADMIN_PASSWORD } });
    assert.equal(noToken.status, 403, 'a cookie without the anti-forgery token changes nothing and reveals nothing');
    const shown = await api(b.url, path, { cookie: s.cookie, csrf: s.csrf, body: { Password: ADMIN_PASSWORD } });
    assert.equal(shown.status, 200);
    assert.equal(shown.body.MasterKey, c.masterKey);
    const events = await api(a.url, '/api/events?eventCategories=MasterKeyViewed', K);
    assert.equal(events.body.Items.length, 1, 'one event: the refusals recorded none');
    assert.match(events.body.Items[0].Message, /admin/);
    assert.ok(!JSON.stringify(events.body).includes(c.masterKey), 'the event does not hold the key');
  });

  it('counts wrong passwords against the sign-in throttle: guessing here is no faster than signing in (last: it locks admin)', async () => {
    const a = nodes[0]!;
    const path = '/api/configuration/masterkey';
    let locked: { status: number; body: any } | undefined;
    for (let i = 0; i < 8 && !locked; i++) {
      const r = await api(a.url, path, { ...K, body: { Password: `guess-${i}` } });
      if (r.status === 400) locked = r;
      else assert.equal(r.status, 401);
    }
    assert.ok(locked, 'wrong passwords lock the name, as at sign-in');
    assert.match(locked.body.ErrorMessage, /too many failed login attempts/);
    const right = await api(a.url, path, { ...K, body: { Password: ADMIN_PASSWORD } });
    assert.equal(right.status, 400, 'the right password too, while locked');
    assert.ok(!JSON.stringify(right.body).includes(c.masterKey));
    const signInToo = await api(nodes[1]!.url, '/api/users/login', { body: { Username: 'admin', Password: ADMIN_PASSWORD } });
    assert.equal(signInToo.status, 400, 'and signing in, on any node: one throttle');
  });
});
