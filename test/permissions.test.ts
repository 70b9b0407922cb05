import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ADMIN_API_KEY, api, queueTask, readyCluster, signIn, startNode, untilTask, type NodeProcess, type TestCluster } from './helpers.js';

const K = { apiKey: ADMIN_API_KEY };
const FINAL = ['Success', 'Failed', 'Canceled', 'TimedOut'];

describe("a non-administrator and an administrator's ad-hoc scripts, on both nodes of a cluster", () => {
  let c: TestCluster;
  let nodes: NodeProcess[];
  let finished: any;
  let running: any;
  let artifactId: string;
  let as: { name: string; creds: { apiKey?: string; cookie?: string; csrf?: string } }[];

  before(async () => {
    c = await readyCluster(['perm-a', 'perm-b']);
    nodes = await Promise.all([startNode(c.homes[0]!, 'perm-a'), startNode(c.homes[1]!, 'perm-b')]);
    const [a] = nodes as [NodeProcess, NodeProcess];
    finished = await queueTask(a, { Name: 'AdHocScript', Arguments: { ScriptBody: 'echo admin-secret-output; echo artifact-secret > out.txt; new_octopusartifact out.txt secret.txt' } });
    running = await queueTask(a, { Name: 'AdHocScript', Arguments: { ScriptBody: 'sleep 120' } });
    // The administrator's Noop is everyone's to see: the lists below are not empty because the caller sees nothing.
    const noop = await queueTask(a, { Name: 'Noop' });
    await untilTask(a, noop.Id, (t) => FINAL.includes(t.State), 'finished', 30_000);
    finished = await untilTask(a, finished.Id, (t) => FINAL.includes(t.State), 'finished', 30_000);
    assert.equal(finished.State, 'Success');
    await untilTask(a, running.Id, (t) => t.State === 'Executing', 'executing', 30_000);
    const arts = await api(a.url, `/api/artifacts?regarding=${finished.Id}`, K);
    assert.equal(arts.body.Items.length, 1, 'the script attached its artifact');
    artifactId = arts.body.Items[0].Id;

    const carol = await api(a.url, '/api/users', { ...K, body: { Username: 'carol', Password: 'carol-password' } });
    assert.equal(carol.status, 201);
    const key = (await api(a.url, `/api/users/${carol.body.Id}/apikeys`, { ...K, body: { Purpose: 'test' } })).body.ApiKey as string;
    const session = await signIn(nodes[1]!.url, 'carol', 'carol-password');
    as = [{ name: 'with an API key', creds: { apiKey: key } }, { name: 'with a session cookie and its token', creds: { cookie: session.cookie, csrf: session.csrf } }];
  });
  after(async () => {
    if (running) await api(nodes[0]!.url, `/api/tasks/${running.Id}/cancel`, { ...K, method: 'POST' });
    await Promise.all(nodes.map((n) => n.kill('SIGTERM')));
  });

  it('the administrator sees the scripts, their logs and their artifact on both nodes (what the refusals below hide exists)', async () => {
    for (const n of nodes) {
      assert.equal((await api(n.url, `/api/tasks/${finished.Id}`, K)).status, 200);
      assert.match((await api(n.url, `/api/tasks/${finished.Id}/raw`, K)).body, /admin-secret-output/);
      assert.equal((await api(n.url, `/api/tasks/${finished.Id}/details`, K)).status, 200);
      assert.equal((await api(n.url, `/api/tasks?ids=${finished.Id},${running.Id}`, K)).body.TotalResults, 2);
      assert.equal((await api(n.url, `/api/artifacts/${artifactId}/content`, K)).body, 'artifact-secret\n');
      assert.ok((await api(n.url, '/api/artifacts?take=1000', K)).body.Items.some((x: any) => x.Id === artifactId));
    }
  });

  it('may neither queue, see, list, stream, cancel nor re-run the scripts, nor see their artifact', async () => {
    const before = (await api(nodes[0]!.url, '/api/tasks?name=AdHocScript&take=0', K)).body.TotalResults;
    for (const n of nodes) {
      for (const { name, creds } of as) {
        const what = (s: string) => `${s} on ${n.name} ${name}`;
        for (const path of ['/api/tasks', '/api/Spaces-1/tasks']) {
          const q = await api(n.url, path, { ...creds, body: { Name: 'AdHocScript', Arguments: { ScriptBody: 'cat ~/master.key' } } });
          assert.equal(q.status, 403, what(`queue through ${path}`));
          assert.match(q.body.ErrorMessage, /administrator/);
        }
        for (const path of [
          `/api/tasks/${finished.Id}`, `/api/Spaces-1/tasks/${finished.Id}`, `/api/tasks/${finished.Id}/details`, `/api/tasks/${finished.Id}/raw`,
          `/api/tasks/${finished.Id}/log/stream`, `/api/Spaces-1/tasks/${finished.Id}/details`, `/api/tasks/${running.Id}`, `/api/tasks/${running.Id}/raw`,
          `/api/artifacts/${artifactId}`, `/api/artifacts/${artifactId}/content`, `/api/Spaces-1/artifacts/${artifactId}/content`,
        ]) {
          const r = await api(n.url, path, creds);
          assert.equal(r.status, 404, what(`GET ${path}`));
          assert.doesNotMatch(JSON.stringify(r.body), /secret/, what(`GET ${path} leaks nothing`));
        }
        // Lists leave the scripts out, and count only what they show.
        const list = await api(n.url, '/api/tasks?take=1000', creds);
        assert.equal(list.status, 200);
        assert.ok(list.body.Items.length > 0, what('the list shows the Noops'));
        assert.ok(list.body.Items.every((t: any) => t.Name !== 'AdHocScript'), what('no ad-hoc script listed'));
        assert.equal(list.body.TotalResults, list.body.Items.length, what('the total counts only what is shown'));
        const byId = await api(n.url, `/api/tasks?ids=${finished.Id},${running.Id}`, creds);
        assert.deepEqual([byId.body.Items, byId.body.TotalResults], [[], 0], what('asked for by id'));
        const paged = await api(n.url, '/api/Spaces-1/tasks?skip=0&take=1', creds);
        assert.equal(paged.body.TotalResults, list.body.TotalResults, what('a page counts the same'));
        for (const path of ['/api/artifacts?take=1000', `/api/artifacts?regarding=${finished.Id}`, '/api/Spaces-1/artifacts']) {
          const arts = await api(n.url, path, creds);
          assert.equal(arts.status, 200);
          assert.deepEqual([arts.body.Items, arts.body.TotalResults], [[], 0], what(`GET ${path}`));
        }
        // Empty-body POSTs: refused whichever way the caller signed in.
        assert.equal((await api(n.url, `/api/tasks/${running.Id}/cancel`, { ...creds, method: 'POST' })).status, 404, what('cancel'));
        assert.equal((await api(n.url, `/api/tasks/rerun/${finished.Id}`, { ...creds, method: 'POST' })).status, 404, what('re-run'));
      }
    }
    assert.equal((await api(nodes[1]!.url, `/api/tasks/${running.Id}`, K)).body.State, 'Executing', 'the script still runs');
    assert.equal((await api(nodes[0]!.url, '/api/tasks?name=AdHocScript&take=0', K)).body.TotalResults, before, 'nothing was queued or re-run');
  });

  it('may queue a Noop, see it and its log, and re-run it, on both nodes', async () => {
    for (const n of nodes) {
      for (const { name, creds } of as) {
        const q = await api(n.url, '/api/tasks', { ...creds, body: { Name: 'Noop' } });
        assert.equal(q.status, 201, `queue a Noop on ${n.name} ${name}: ${JSON.stringify(q.body)}`);
        const other = nodes.find((x) => x !== n)!;
        const done = await untilTask(other, q.body.Id, (t) => FINAL.includes(t.State), 'finished', 30_000);
        assert.equal(done.State, 'Success');
        assert.equal((await api(other.url, `/api/tasks/${q.body.Id}`, creds)).status, 200);
        assert.equal((await api(other.url, `/api/tasks/${q.body.Id}/details`, creds)).status, 200);
        assert.match((await api(other.url, `/api/tasks/${q.body.Id}/raw`, creds)).body, /Noop task completed/);
        const again = await api(other.url, `/api/tasks/rerun/${q.body.Id}`, { ...creds, method: 'POST' });
        assert.equal(again.status, 201, `re-run on ${other.name} ${name}`);
      }
    }
  });
});
