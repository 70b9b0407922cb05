// The dashboard (GET /api/{space}/dashboard, /api/dashboard for the default space) on a cluster of
// two real `cuttle run` processes: one cell per project and environment holding the latest
// deployment there, environments in their sort order, projects with their groups, nothing from
// another space, and the usual refusals.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  Client, DeploymentProcessRepository, DeploymentRepository, EnvironmentRepository, ProjectGroupRepository, ProjectRepository,
  ReleaseRepository, ServerTaskWaiter, SpaceRepository, type DeploymentEnvironment, type Project, type Space,
} from '@octopusdeploy/api-client';
import { scriptStep } from './octopusSteps.js';
import { ADMIN_API_KEY, api, readyCluster, startNode, type NodeProcess, type TestCluster } from './helpers.js';
import { durationText } from '../src/deploy/dashboard.js';

interface Cell {
  ProjectId: string; EnvironmentId: string; ReleaseId: string; ReleaseVersion: string; DeploymentId: string; TaskId: string; State: string;
  ChannelId: string; TenantId: null; HasPendingInterruptions: boolean; Created: string; QueueTime: string; StartTime: string | null; CompletedTime: string | null; Duration: string; IsCompleted: boolean;
  HasWarningsOrErrors: boolean; ErrorMessage: string; IsCurrent: boolean;
}
interface Dashboard {
  Projects: { Id: string; Name: string; ProjectGroupId: string }[];
  ProjectGroups: { Id: string; Name: string }[];
  Environments: { Id: string; Name: string }[];
  Items: Cell[];
  PreviousItems: unknown[];
  Tenants: unknown[];
}

describe('the dashboard: the latest deployment of each project to each environment', () => {
  let cluster: TestCluster;
  const nodes: NodeProcess[] = [];
  let client: Client;
  let space: Space;
  let other: Space;
  let dev: DeploymentEnvironment;
  let test: DeploymentEnvironment;
  let web: Project;
  let api2: Project;
  let broken: Project;
  const deployed = new Map<string, { taskId: string; deploymentId: string }>();
  const a = () => nodes[0]!;
  const b = () => nodes[1]!;

  async function makeProject(s: Space, name: string, body: string): Promise<Project> {
    const group = (await new ProjectGroupRepository(client, s.Name).list({ take: 1 })).Items[0]!;
    const lifecycle = (await api(a().url, `/api/${s.Id}/lifecycles/all`, { apiKey: ADMIN_API_KEY })).body[0];
    const p = await new ProjectRepository(client, s.Name).create({ Name: name, ProjectGroupId: group.Id, LifecycleId: lifecycle.Id });
    const processes = new DeploymentProcessRepository(client, s.Name);
    const process = await processes.get(p);
    process.Steps = [scriptStep('Say hello', body)];
    await processes.update(p, process);
    return p;
  }

  async function deploy(s: Space, project: Project, version: string, environment: string, expected = 'Success'): Promise<{ taskId: string; deploymentId: string }> {
    const r = await new DeploymentRepository(client, s.Name).create({ spaceName: s.Name, ProjectName: project.Name, ReleaseVersion: version, EnvironmentNames: [environment] });
    const t = r.DeploymentServerTasks[0]!;
    const done = await new ServerTaskWaiter(client, s.Name).waitForServerTaskToComplete(t.ServerTaskId, 200, 60_000);
    assert.equal(done.State, expected, `${project.Name} ${version} to ${environment}`);
    return { taskId: t.ServerTaskId, deploymentId: t.DeploymentId };
  }

  const release = (s: Space, project: Project, version: string) =>
    new ReleaseRepository(client, s.Name).create({ spaceName: s.Name, ProjectName: project.Name, ReleaseVersion: version });

  const board = async (node: NodeProcess, spaceId: string): Promise<Dashboard> => {
    const r = await api<Dashboard>(node.url, `/api/${spaceId}/dashboard`, { apiKey: ADMIN_API_KEY });
    assert.equal(r.status, 200);
    return r.body;
  };

  before(async () => {
    cluster = await readyCluster(['a', 'b']);
    nodes.push(...await Promise.all([startNode(cluster.homes[0]!, 'a'), startNode(cluster.homes[1]!, 'b')]));
    client = await Client.create({ instanceURL: a().url, apiKey: ADMIN_API_KEY, userAgentApp: 'cuttle-tests' });
    const adminId = (await api(a().url, '/api/users/me', { apiKey: ADMIN_API_KEY })).body.Id as string;
    const spaces = new SpaceRepository(client);
    space = await spaces.create({ Name: 'Board', SpaceManagersTeams: [], SpaceManagersTeamMembers: [adminId], IsDefault: false });
    other = await spaces.create({ Name: 'Elsewhere', SpaceManagersTeams: [], SpaceManagersTeamMembers: [adminId], IsDefault: false });
    const environments = new EnvironmentRepository(client, space.Name);
    dev = await environments.create({ Name: 'Dev' });
    test = await environments.create({ Name: 'Test' });
    await new EnvironmentRepository(client, other.Name).create({ Name: 'Dev' });
    web = await makeProject(space, 'Web', 'echo "web #{Octopus.Release.Number} to #{Octopus.Environment.Name}"');
    api2 = await makeProject(space, 'Api', 'echo api');
    broken = await makeProject(space, 'Broken', 'echo "about to fail"; exit 3');
    const elsewhere = await makeProject(other, 'Elsewhere app', 'echo elsewhere');
    await release(space, web, '1.0.0');
    await release(space, web, '1.0.1');
    await release(space, web, '1.0.2');
    await release(other, elsewhere, '9.0.0');
    await release(space, broken, '0.1.0');
    // Dev gets three deployments, the newest of an older release; Test one; Api none.
    await deploy(space, web, '1.0.0', 'Dev');
    await deploy(space, web, '1.0.2', 'Dev');
    deployed.set('test', await deploy(space, web, '1.0.1', 'Test'));
    deployed.set('dev', await deploy(space, web, '1.0.1', 'Dev'));
    await deploy(other, elsewhere, '9.0.0', 'Dev');
    deployed.set('broken', await deploy(space, broken, '0.1.0', 'Test', 'Failed'));
  });
  after(async () => { await Promise.all(nodes.map((n) => n.kill('SIGTERM'))); });

  it('has one cell per project and environment deployed to, the latest deployment there, read through either node', async () => {
    for (const node of [a(), b()]) {
      const d = await board(node, space.Id);
      assert.deepEqual(d.Environments.map((e) => e.Name), ['Dev', 'Test'], 'environments in sort order');
      assert.deepEqual(d.Projects.map((p) => p.Name).sort(), ['Api', 'Broken', 'Web']);
      const group = d.ProjectGroups.find((g) => g.Id === d.Projects[0]!.ProjectGroupId);
      assert.ok(group, 'every project\'s group is listed');
      assert.deepEqual(d.PreviousItems, []);
      assert.deepEqual(d.Tenants, []);
      assert.equal(d.Items.length, 3, 'Web in Dev and Test, Broken in Test; nothing for Api');
      const failed = d.Items.find((i) => i.ProjectId === broken.Id)!;
      assert.equal(failed.EnvironmentId, test.Id);
      assert.equal(failed.TaskId, deployed.get('broken')!.taskId);
      assert.equal(failed.State, 'Failed');
      assert.equal(failed.IsCompleted, true);
      assert.equal(failed.HasWarningsOrErrors, true);
      assert.notEqual(failed.ErrorMessage, '', 'a failed cell says why');
      assert.ok(!d.Items.some((i) => i.ProjectId === api2.Id));
      for (const [env, key] of [[dev, 'dev'], [test, 'test']] as const) {
        const cell = d.Items.find((i) => i.ProjectId === web.Id && i.EnvironmentId === env.Id);
        assert.ok(cell, `a cell for Web in ${env.Name}`);
        assert.equal(cell.ReleaseVersion, '1.0.1', `the latest deployment to ${env.Name} (not the highest release)`);
        assert.equal(cell.TaskId, deployed.get(key)!.taskId);
        assert.equal(cell.DeploymentId, deployed.get(key)!.deploymentId);
        assert.equal(cell.State, 'Success');
        assert.equal(cell.IsCompleted, true);
        assert.equal(cell.IsCurrent, true);
        assert.equal(cell.HasWarningsOrErrors, false);
        assert.equal(cell.ErrorMessage, '');
        assert.ok(cell.StartTime && cell.CompletedTime && cell.QueueTime && cell.Created);
        assert.match(cell.Duration, /^\d+ (second|minute|hour)s?$/);
        const rel = (await api(node.url, `/api/${space.Id}/releases/${cell.ReleaseId}`, { apiKey: ADMIN_API_KEY })).body;
        assert.equal(rel.Version, '1.0.1');
        assert.equal(cell.ChannelId, rel.ChannelId);
        assert.equal(cell.TenantId, null);
        assert.equal(cell.HasPendingInterruptions, false);
        const task = (await api(node.url, `/api/tasks/${cell.TaskId}`, { apiKey: ADMIN_API_KEY })).body;
        assert.equal(task.State, 'Success');
      }
    }
  });

  it('follows a newer deployment at once, and a new environment order', async () => {
    const newest = await deploy(space, web, '1.0.2', 'Test');
    let d = await board(b(), space.Id);
    const cell = d.Items.find((i) => i.ProjectId === web.Id && i.EnvironmentId === test.Id)!;
    assert.equal(cell.ReleaseVersion, '1.0.2');
    assert.equal(cell.TaskId, newest.taskId);
    const env = (await api(a().url, `/api/${space.Id}/environments/${test.Id}`, { apiKey: ADMIN_API_KEY })).body;
    const moved = await api(a().url, `/api/${space.Id}/environments/${test.Id}`, { method: 'PUT', apiKey: ADMIN_API_KEY, body: { ...env, SortOrder: -1 } });
    assert.equal(moved.status, 200);
    d = await board(b(), space.Id);
    assert.deepEqual(d.Environments.map((e) => e.Name), ['Test', 'Dev']);
  });

  it('shows nothing of another space; the default space at /api/dashboard; refuses unknown spaces and anonymous callers', async () => {
    const mine = await board(a(), space.Id);
    const theirs = await board(a(), other.Id);
    assert.deepEqual(theirs.Projects.map((p) => p.Name), ['Elsewhere app']);
    assert.equal(theirs.Items.length, 1);
    assert.equal(theirs.Items[0]!.ReleaseVersion, '9.0.0');
    assert.ok(!mine.Items.some((i) => i.ProjectId === theirs.Projects[0]!.Id));
    assert.ok(!theirs.Environments.some((e) => mine.Environments.some((m) => m.Id === e.Id)));
    const byDefault = await api<Dashboard>(b().url, '/api/dashboard', { apiKey: ADMIN_API_KEY });
    assert.equal(byDefault.status, 200);
    assert.deepEqual(byDefault.body, await board(b(), 'Spaces-1'));
    assert.ok(!byDefault.body.Projects.some((p) => p.Id === web.Id || p.Id === theirs.Projects[0]!.Id));
    assert.equal((await api(b().url, '/api/Spaces-999/dashboard', { apiKey: ADMIN_API_KEY })).status, 404);
    assert.equal((await api(b().url, `/api/${space.Id}/dashboard`)).status, 401);
  });

  it('words a duration as Octopus does', () => {
    const t0 = new Date('2026-01-01T00:00:00Z');
    assert.equal(durationText(null, null), '');
    assert.equal(durationText(t0, new Date('2026-01-01T00:00:01Z')), '1 second');
    assert.equal(durationText(t0, new Date('2026-01-01T00:00:42Z')), '42 seconds');
    assert.equal(durationText(t0, new Date('2026-01-01T00:03:10Z')), '3 minutes');
    assert.equal(durationText(t0, new Date('2026-01-01T02:10:00Z')), '2 hours');
  });
});
