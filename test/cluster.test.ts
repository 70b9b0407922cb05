import assert from 'node:assert/strict';
import { describe, it, before, after } from 'node:test';
import { ADMIN_API_KEY, ADMIN_PASSWORD, api, createCluster, cuttle, signIn, startNode, waitFor, type NodeProcess, type TestCluster } from './helpers.js';

// Built through the real CLI on purpose (setup, show-master-key, path, admin, join ×3): this file
// proves the documented HA flow yields a working cluster. Other multi-node files use `readyCluster`.
describe('a four-node cluster built with the HA flow', () => {
  let cluster: TestCluster;
  let nodes: NodeProcess[];
  const names = ['node-a', 'node-b', 'node-c', 'node-d'];

  before(async () => {
    cluster = await createCluster(names);
    nodes = await Promise.all(names.map((n, i) => startNode(cluster.homes[i]!, n)));
  });
  after(async () => { await Promise.all(nodes.map((n) => n.kill('SIGTERM'))); });

  it('lists all four nodes online, with task cap, drain, last seen and version, on every node', async () => {
    for (const n of nodes) {
      const r = await api(n.url, '/api/octopusservernodes/summary', { apiKey: ADMIN_API_KEY });
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('octopus-node'), n.name);
      const listed = r.body.Nodes as any[];
      assert.deepEqual(listed.map((x) => x.Name).sort(), names);
      for (const x of listed) {
        assert.equal(x.IsOffline, false, `${x.Name} should be online as seen from ${n.name}`);
        assert.equal(x.MaxConcurrentTasks, 5);
        assert.equal(x.IsInMaintenanceMode, false);
        assert.equal(x.Version, '0.1.0');
        assert.ok(Date.now() - Date.parse(x.LastSeen) < 10_000);
      }
    }
  });

  it('prints the same nodes with `cuttle nodes`', () => {
    const r = cuttle(['nodes', '--home', cluster.homes[2]!]);
    assert.equal(r.code, 0, r.stderr);
    for (const n of names) assert.match(r.stdout, new RegExp(`^${n}\\s+Running\\s`, 'm'));
    const j = cuttle(['nodes', '--home', cluster.homes[1]!, '--format', 'json']);
    assert.equal(JSON.parse(j.stdout).length, 4);
  });

  it('reports that every node sees the same shared folders', async () => {
    await waitFor('storage checks of all nodes', async () => {
      const r = await api(nodes[0]!.url, '/api/octopusservernodes/summary', { apiKey: ADMIN_API_KEY });
      const listed = r.body.Nodes as any[];
      return listed.length === names.length && listed.every((x) => x.SharedStorage.Status === 'Ok');
    });
  });

  it('accepts a session cookie issued by one node on every other node, and logout ends it everywhere', async () => {
    const { cookie, csrf } = await signIn(nodes[0]!.url, 'admin', ADMIN_PASSWORD);
    for (const n of nodes.slice(1)) {
      const me = await api(n.url, '/api/users/me', { cookie });
      assert.equal(me.status, 200, `node ${n.name} should accept node-a's session`);
      assert.equal(me.body.Username, 'admin');
    }
    // Logging out changes state: the portal sends the anti-forgery token, which node-a issued and node-c checks.
    assert.equal((await api(nodes[2]!.url, '/api/users/logout', { method: 'POST', cookie, csrf })).status, 200);
    assert.equal((await api(nodes[1]!.url, '/api/users/me', { cookie })).status, 401);
  });

  it('answers 418 on ping once a node is drained through the API, and 200 again when undrained', async () => {
    const id = 'OctopusServerNodes-node-c';
    const put = await api(nodes[0]!.url, `/api/octopusservernodes/${id}`, { method: 'PUT', apiKey: ADMIN_API_KEY, body: { Id: id, Name: 'node-c', MaxConcurrentTasks: 5, IsInMaintenanceMode: true } });
    assert.equal(put.status, 200);
    assert.equal(put.body.IsInMaintenanceMode, true);
    const ping = await api(nodes[2]!.url, '/api/octopusservernodes/ping');
    assert.equal(ping.status, 418);
    assert.equal(ping.body.Name, 'node-c');
    const back = await api(nodes[3]!.url, `/api/octopusservernodes/${id}`, { method: 'PUT', apiKey: ADMIN_API_KEY, body: { IsInMaintenanceMode: false } });
    assert.equal(back.status, 200);
    assert.equal((await api(nodes[2]!.url, '/api/octopusservernodes/ping')).status, 200);
  });

  it('changes task cap and drain with `cuttle node`', async () => {
    const r = cuttle(['node', '--home', cluster.homes[3]!, '--taskCap', '2', '--drain', 'true']);
    assert.equal(r.code, 0, r.stderr);
    const n = await api(nodes[0]!.url, '/api/octopusservernodes/OctopusServerNodes-node-d', { apiKey: ADMIN_API_KEY });
    assert.equal(n.body.MaxConcurrentTasks, 2);
    assert.equal(n.body.IsInMaintenanceMode, true);
    assert.equal((await api(nodes[3]!.url, '/api/octopusservernodes/ping')).status, 418);
    assert.equal(cuttle(['node', '--home', cluster.homes[3]!, '--task-cap', '5', '--drain=false']).code, 0);
  });

  it('shows a node killed with SIGKILL as offline on every other node within the threshold, then lets it be deleted', async () => {
    const victim = nodes[1]!;
    await victim.kill('SIGKILL');
    const killedAt = Date.now();
    const detected = await Promise.all(nodes.filter((n) => n !== victim).map((n) => waitFor(`${n.name} to see node-b offline`, async () => {
      const r = await api(n.url, '/api/octopusservernodes/summary', { apiKey: ADMIN_API_KEY });
      const b = (r.body.Nodes as any[]).find((x) => x.Name === 'node-b');
      return b.IsOffline ? Date.now() - killedAt : undefined;
    }, 10_000, 20)));
    // The threshold in these tests is 3 s; the advisory lock makes detection much faster than that.
    for (const ms of detected) assert.ok(ms <= 3_000, `detected after ${ms} ms`);
    process.stdout.write(`# offline detection after SIGKILL: ${detected.join(', ')} ms\n`);
    const del = await api(nodes[0]!.url, '/api/octopusservernodes/OctopusServerNodes-node-b', { method: 'DELETE', apiKey: ADMIN_API_KEY });
    assert.equal(del.status, 200);
    const live = await api(nodes[0]!.url, '/api/octopusservernodes/OctopusServerNodes-node-a', { method: 'DELETE', apiKey: ADMIN_API_KEY });
    assert.equal(live.status, 409);
    assert.match(live.body.ErrorMessage, /online/);
  });

  it('marks a node stopped with SIGTERM offline at once', async () => {
    const n = nodes[3]!;
    assert.equal(await n.kill('SIGTERM'), 0);
    const r = await api(nodes[0]!.url, '/api/octopusservernodes/summary', { apiKey: ADMIN_API_KEY });
    assert.equal((r.body.Nodes as any[]).find((x) => x.Name === 'node-d').IsOffline, true);
  });
});
