// The daily verbs on the command line (`cuttle release create`, `cuttle deploy --wait`) against a
// running node, and a space whose task queue is stopped: its deployments wait, then run when it starts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ADMIN_API_KEY, api, cuttle, readyCluster, startNode, untilTask, type NodeProcess, type TestCluster } from './helpers.js';

function script(name: string, body: string): object {
  return {
    Id: '', Name: name, Condition: 'Success', StartTrigger: 'StartAfterPrevious', Properties: {},
    Actions: [{ Id: '', Name: name, ActionType: 'Octopus.Script', Properties: { 'Octopus.Action.RunOnServer': 'true', 'Octopus.Action.Script.Syntax': 'Bash', 'Octopus.Action.Script.ScriptBody': body } }],
  };
}

describe('release and deploy on the command line; a stopped space\'s queue', () => {
  let cluster: TestCluster;
  let node: NodeProcess;
  const key = { apiKey: ADMIN_API_KEY };

  async function project(name: string, steps: object[], space = 'Spaces-1'): Promise<string> {
    const group = (await api(node.url, `/api/${space}/projectgroups?take=1`, key)).body.Items[0].Id as string;
    const lifecycle = (await api(node.url, `/api/${space}/lifecycles?take=1`, key)).body.Items[0].Id as string;
    const p = await api(node.url, `/api/${space}/projects`, { ...key, method: 'POST', body: { Name: name, ProjectGroupId: group, LifecycleId: lifecycle } });
    assert.equal(p.status, 201, JSON.stringify(p.body));
    const process = (await api(node.url, `/api/${space}/projects/${p.body.Id}/deploymentprocesses`, key)).body;
    const put = await api(node.url, `/api/${space}/projects/${p.body.Id}/deploymentprocesses`, { ...key, method: 'PUT', body: { ...process, Steps: steps } });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    return p.body.Id as string;
  }

  before(async () => {
    cluster = await readyCluster(['solo']);
    node = await startNode(cluster.homes[0]!, 'solo');
    for (const name of ['Dev', 'Test']) assert.equal((await api(node.url, '/api/Spaces-1/environments', { ...key, method: 'POST', body: { Name: name } })).status, 201);
  });
  after(async () => { await node.kill('SIGTERM'); });

  it('creates releases and deploys them, streaming the log, exiting 1 when the deployment fails', async () => {
    await project('Shop', [script('Greet', 'echo "shop #{Octopus.Release.Number} in #{Octopus.Environment.Name}"')]);
    const home = ['--home', cluster.homes[0]!];
    const made = cuttle(['release', 'create', ...home, '--project', 'shop']);
    assert.equal(made.code, 0, made.stderr);
    assert.match(made.stdout, /Created release 0\.0\.1 of shop \(Releases-\d+\)/);
    const named = cuttle(['release', 'create', ...home, '--project', 'Shop', '--version', '2.0.0-beta.1', '--release-notes', 'first beta']);
    assert.equal(named.code, 0, named.stderr);
    const again = cuttle(['release', 'create', ...home, '--project', 'Shop', '--version', '2.0.0-beta.1']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already has a release 2\.0\.0-beta\.1/);
    assert.equal(cuttle(['release', 'create', ...home, '--project', 'Shop', '--version', '2.0.0-beta.1', '--ignore-existing']).code, 0);

    const deployed = cuttle(['deploy', ...home, '--project', 'Shop', '--release', '0.0.1', '--environment', 'Dev', '--environment', 'Test', '--wait']);
    assert.equal(deployed.code, 0, deployed.stderr + deployed.stdout);
    assert.match(deployed.stdout, /shop 0\.0\.1 in Dev/);
    assert.match(deployed.stdout, /shop 0\.0\.1 in Test/);
    assert.match(deployed.stdout, /== Step 1: Greet: Success/);
    assert.equal((deployed.stdout.match(/: Success$/gm) ?? []).length >= 2, true);

    await project('Broken', [script('Fail', 'echo "about to fail"; exit 3')]);
    assert.equal(cuttle(['release', 'create', ...home, '--project', 'Broken']).code, 0);
    const failed = cuttle(['deploy', ...home, '--project', 'Broken', '--release', '0.0.1', '--environment', 'Dev', '--wait']);
    assert.equal(failed.code, 1, failed.stdout);
    assert.match(failed.stdout, /about to fail/);
    assert.match(failed.stdout, /Failed/);

    const usage = cuttle(['deploy', ...home, '--release', '0.0.1', '--environment', 'Dev']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--project is required/);
    const missing = cuttle(['deploy', ...home, '--project', 'Nope', '--release', '0.0.1', '--environment', 'Dev']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no project named "Nope"/);
    const noEnv = cuttle(['deploy', ...home, '--project', 'Shop', '--release', '0.0.1', '--environment', 'Nowhere']);
    assert.equal(noEnv.code, 1);
    assert.match(noEnv.stderr, /no environment named "Nowhere"/);
  });

  it('answers bad release and deployment commands with a 4xx naming the problem, and writes nothing', async () => {
    const post = (path: string, body: unknown) => api(node.url, path, { ...key, method: 'POST', body });
    const releasesBefore = (await api(node.url, '/api/Spaces-1/releases?take=0', key)).body.TotalResults as number;
    const deploymentsBefore = (await api(node.url, '/api/Spaces-1/deployments?take=0', key)).body.TotalResults as number;
    const cases: [string, unknown, number, RegExp][] = [
      ['/api/Spaces-999/releases/create/v1', { ProjectName: 'Shop' }, 404, /no space Spaces-999/],
      ['/api/Spaces-1/releases/create/v1', { ProjectName: 5 }, 400, /ProjectName/],
      ['/api/Spaces-1/releases/create/v1', {}, 400, /ProjectName/],
      ['/api/Spaces-1/releases/create/v1', { ProjectName: 'Shop', ChannelName: 'Nope' }, 404, /no channel named "Nope"/],
      ['/api/Spaces-1/releases/create/v1', { ProjectName: 'Shop', ReleaseVersion: 'not a version!' }, 400, /is not a version/],
      ['/api/Spaces-1/releases/create/v1', { ProjectName: 'Shop', Packages: ['Thing:1.0.0'] }, 400, /matches no package step/],
      ['/api/Spaces-1/deployments/create/untenanted/v1', { ProjectName: 'Shop', ReleaseVersion: '0.0.1', EnvironmentNames: [] }, 400, /EnvironmentNames/],
      ['/api/Spaces-1/deployments/create/untenanted/v1', { ProjectName: 'Shop', ReleaseVersion: '0.0.1', EnvironmentNames: ['Dev', 'Nowhere'] }, 404, /no environment named "Nowhere"/],
      ['/api/Spaces-1/deployments/create/untenanted/v1', { ProjectName: 'Shop', ReleaseVersion: '0.0.1', EnvironmentNames: ['Dev'], SpecificMachineNames: ['web01'] }, 400, /built-in worker/],
      ['/api/Spaces-1/deployments/create/untenanted/v1', { ProjectName: 'Shop', ReleaseVersion: '0.0.1', EnvironmentNames: ['Dev'], SkipStepNames: ['No such step'] }, 400, /no step of/],
      ['/api/Spaces-1/deployments/create/untenanted/v1', { ProjectName: 'Shop', ReleaseVersion: '0.0.1', EnvironmentNames: 'Dev' }, 400, /EnvironmentNames/],
      ['/api/Spaces-1/deployments/create/tenanted/v1', { ProjectName: 'Shop', ReleaseVersion: '0.0.1', EnvironmentName: 'Dev', Tenants: ['t'] }, 400, /untenanted/],
      ['/api/Spaces-1/deployments', { ReleaseId: 'Releases-999', EnvironmentId: 'Environments-1' }, 404, /no release Releases-999/],
    ];
    for (const [path, body, status, pattern] of cases) {
      const r = await post(path, body);
      assert.equal(r.status, status, `${path} ${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
      assert.match(`${r.body.ErrorMessage} ${(r.body.Errors ?? []).join(' ')}`, pattern, path);
    }
    const malformed = await api(node.url, '/api/Spaces-1/releases/create/v1', { ...key, method: 'POST', rawBody: '{"ProjectName": "Shop",' });
    assert.equal(malformed.status, 400);
    assert.equal((await api(node.url, '/api/Spaces-1/deployments?taskState=Bogus', key)).status, 400);
    assert.equal((await api(node.url, '/api/Spaces-1/releases?take=0', key)).body.TotalResults, releasesBefore, 'no release was written');
    assert.equal((await api(node.url, '/api/Spaces-1/deployments?take=0', key)).body.TotalResults, deploymentsBefore, 'no deployment was written');
    // A release's snapshots are read-only.
    const release = (await api(node.url, '/api/Spaces-1/releases?take=1', key)).body.Items[0];
    const snapshot = await api(node.url, `/api/Spaces-1/variables/${release.ProjectVariableSetSnapshotId}`, key);
    assert.equal(snapshot.status, 200);
    assert.equal((await api(node.url, `/api/Spaces-1/variables/${release.ProjectVariableSetSnapshotId}`, { ...key, method: 'PUT', body: snapshot.body })).status, 400);
  });

  it('keeps a stopped space\'s deployment queued, refuses new ones there, and runs it once the space starts again', async () => {
    const space = await api(node.url, '/api/spaces', { ...key, method: 'POST', body: { Name: 'Paused', SpaceManagersTeamMembers: [], SpaceManagersTeams: [] } });
    assert.equal(space.status, 201, JSON.stringify(space.body));
    const s = space.body.Id as string;
    assert.equal((await api(node.url, `/api/${s}/environments`, { ...key, method: 'POST', body: { Name: 'Dev' } })).status, 201);
    await project('Later', [script('Run', 'echo ran-after-restart')], s);
    const release = await api(node.url, `/api/${s}/releases/create/v1`, { ...key, method: 'POST', body: { spaceName: 'Paused', ProjectName: 'Later' } });
    assert.equal(release.status, 200, JSON.stringify(release.body));

    // The node takes no task while the deployment is queued and the space stopped.
    const nodeId = (await api(node.url, '/api/octopusservernodes', key)).body.Items[0].Id as string;
    const setCap = async (n: number) => assert.equal((await api(node.url, `/api/octopusservernodes/${nodeId}`, { ...key, method: 'PUT', body: { MaxConcurrentTasks: n } })).status, 200);
    await setCap(0);
    const queued = await api(node.url, `/api/${s}/deployments/create/untenanted/v1`, { ...key, method: 'POST', body: { spaceName: 'Paused', ProjectName: 'Later', ReleaseVersion: '0.0.1', EnvironmentNames: ['Dev'] } });
    assert.equal(queued.status, 200, JSON.stringify(queued.body));
    const taskId = queued.body.DeploymentServerTasks[0].ServerTaskId as string;
    const doc = (await api(node.url, `/api/spaces/${s}`, key)).body;
    assert.equal((await api(node.url, `/api/spaces/${s}`, { ...key, method: 'PUT', body: { ...doc, TaskQueueStopped: true } })).status, 200);
    await setCap(5);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal((await api(node.url, `/api/tasks/${taskId}`, key)).body.State, 'Queued', 'a stopped space keeps its tasks queued');
    const refused = await api(node.url, `/api/${s}/deployments/create/untenanted/v1`, { ...key, method: 'POST', body: { spaceName: 'Paused', ProjectName: 'Later', ReleaseVersion: '0.0.1', EnvironmentNames: ['Dev'] } });
    assert.equal(refused.status, 409);
    assert.match(refused.body.ErrorMessage, /task queue of space Paused .* is stopped/);

    // Started again: the queued deployment runs at once (a notification, not the next poll).
    assert.equal((await api(node.url, `/api/spaces/${s}`, { ...key, method: 'PUT', body: { ...doc, TaskQueueStopped: false } })).status, 200);
    const done = await untilTask(node, taskId, (t) => t.IsCompleted === true, 'the deployment to finish', 30_000);
    assert.equal(done.State, 'Success');
    const raw = await api(node.url, `/api/tasks/${taskId}/raw`, key);
    assert.match(String(raw.body), /ran-after-restart/);
  });
});
