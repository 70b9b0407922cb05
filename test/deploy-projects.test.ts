// Projects, channels, deployment processes and variables through the official client
// (@octopusdeploy/api-client) and the REST API, on a cluster of two real `cuttle run` processes.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  Client, DeploymentProcessRepository, EnvironmentRepository, LifecycleRepository, ProjectGroupRepository, ProjectRepository, SpaceRepository,
  type DeploymentEnvironment, type Project, type Space,
} from '@octopusdeploy/api-client';
import { ADMIN_API_KEY, adminQuery, api, assertRefused, readyCluster, refusedWith, startNode, type NodeProcess, type TestCluster } from './helpers.js';

describe('projects, channels, processes and variables through the official client on two nodes', () => {
  let cluster: TestCluster;
  let a: NodeProcess;
  let b: NodeProcess;
  let clientA: Client;
  let clientB: Client;
  let space: Space;
  let dev: DeploymentEnvironment;
  let prod: DeploymentEnvironment;
  let project: Project;

  before(async () => {
    cluster = await readyCluster(['a', 'b']);
    [a, b] = await Promise.all([startNode(cluster.homes[0]!, 'a'), startNode(cluster.homes[1]!, 'b')]);
    clientA = await Client.create({ instanceURL: a.url, apiKey: ADMIN_API_KEY, userAgentApp: 'cuttle-tests' });
    clientB = await Client.create({ instanceURL: b.url, apiKey: ADMIN_API_KEY, userAgentApp: 'cuttle-tests' });
    const adminId = (await api(a.url, '/api/users/me', { apiKey: ADMIN_API_KEY })).body.Id as string;
    space = await new SpaceRepository(clientA).create({ Name: 'Projects', SpaceManagersTeams: [], SpaceManagersTeamMembers: [adminId], IsDefault: false });
    const envs = new EnvironmentRepository(clientA, space.Name);
    dev = await envs.create({ Name: 'Dev' });
    prod = await envs.create({ Name: 'Prod' });
  });
  after(async () => { await Promise.all([a.kill('SIGTERM'), b.kill('SIGTERM')]); });

  it('creates a project from only {LifecycleId, Name, ProjectGroupId} with an empty process, a variable set and a default channel', async () => {
    const group = (await new ProjectGroupRepository(clientA, space.Name).list({ take: 1 })).Items[0]!;
    const lifecycle = (await new LifecycleRepository(clientA, space.Name).list({ take: 1 })).Items[0]!;
    project = await new ProjectRepository(clientA, space.Name).create({ Name: 'Web', ProjectGroupId: group.Id, LifecycleId: lifecycle.Id });
    assert.match(project.Id, /^Projects-\d+$/);
    assert.equal(project.SpaceId, space.Id);
    assert.equal(project.DeploymentProcessId, `deploymentprocess-${project.Id}`);
    assert.equal(project.VariableSetId, `variableset-${project.Id}`);
    assert.equal(project.Slug, 'web');
    assert.equal((project as unknown as { ResumeDeploymentsOnNodeFailure: boolean }).ResumeDeploymentsOnNodeFailure, false);

    const onB = await new ProjectRepository(clientB, space.Name).get(project.Id);
    assert.equal(onB.Name, 'Web');
    const process = await new DeploymentProcessRepository(clientB, space.Name).get(onB);
    assert.equal(process.Id, project.DeploymentProcessId);
    assert.equal(process.ProjectId, project.Id);
    assert.deepEqual(process.Steps, []);
    const channels = await api(b.url, `/api/${space.Id}/projects/${project.Id}/channels`, { apiKey: ADMIN_API_KEY });
    assert.equal(channels.status, 200);
    assert.equal(channels.body.TotalResults, 1);
    assert.equal(channels.body.Items[0].Name, 'Default');
    assert.equal(channels.body.Items[0].IsDefault, true);
    const variables = await api(b.url, `/api/${space.Id}/variables/${project.VariableSetId}`, { apiKey: ADMIN_API_KEY });
    assert.equal(variables.status, 200);
    assert.deepEqual(variables.body.Variables, []);
    assert.equal(variables.body.OwnerId, project.Id);

    // Invisible from another space; a duplicate name (any case) and missing references are refused.
    assertRefused(await api(a.url, `/api/Spaces-1/projects/${project.Id}`, { apiKey: ADMIN_API_KEY }), 404, /no project/);
    await assert.rejects(new ProjectRepository(clientB, space.Name).create({ Name: 'WEB', ProjectGroupId: group.Id, LifecycleId: lifecycle.Id }), refusedWith(409, /named "WEB" already exists/));
    await assert.rejects(new ProjectRepository(clientB, space.Name).create({ Name: 'Other', ProjectGroupId: 'ProjectGroups-999', LifecycleId: 'Lifecycles-999' }), refusedWith(400, /ProjectGroups-999.*Lifecycles-999/s));
    // A lifecycle or project group in use cannot go.
    assertRefused(await api(a.url, `/api/${space.Id}/lifecycles/${lifecycle.Id}`, { method: 'DELETE', apiKey: ADMIN_API_KEY }), 409, new RegExp(`project ${project.Id} \\(Web\\)`));
    assertRefused(await api(a.url, `/api/${space.Id}/projectgroups/${group.Id}`, { method: 'DELETE', apiKey: ADMIN_API_KEY }), 409, /still holds project/);
  });

  it('assigns ids to steps and actions sent with Id "", checks Version and refuses unknown action types', async () => {
    const repo = new DeploymentProcessRepository(clientA, space.Name);
    const process = await repo.get(project);
    process.Steps = [{
      Id: '', Name: 'Say hello', Condition: 'Success', StartTrigger: 'StartAfterPrevious', PackageRequirement: 'LetOctopusDecide',
      Properties: { 'Octopus.Action.TargetRoles': 'web' },
      Actions: [{
        Id: '', Name: 'Say hello', ActionType: 'Octopus.Script', IsDisabled: false, IsRequired: false, CanBeUsedForProjectVersioning: false,
        Environments: [dev.Id], ExcludedEnvironments: [], Channels: [], TenantTags: [], Packages: [], Notes: null, WorkerPoolId: null, WorkerPoolVariable: null,
        Container: { Image: null, FeedId: null },
        Properties: { 'Octopus.Action.RunOnServer': 'true', 'Octopus.Action.Script.ScriptSource': 'Inline', 'Octopus.Action.Script.Syntax': 'Bash', 'Octopus.Action.Script.ScriptBody': 'echo hello' },
      }],
    }] as unknown as typeof process.Steps;
    const saved = await repo.update(project, process);
    assert.equal(saved.Version, process.Version + 1);
    const step = saved.Steps[0]!;
    assert.match(step.Id, /^[0-9a-f-]{36}$/);
    assert.match(step.Actions[0]!.Id, /^[0-9a-f-]{36}$/);
    assert.notEqual(step.Id, step.Actions[0]!.Id);
    assert.deepEqual(step.Actions[0]!.Environments, [dev.Id]);

    // The same document again (the old Version) is stale: someone saved in between.
    await assert.rejects(new DeploymentProcessRepository(clientB, space.Name).update(project, process), refusedWith(409, /changed since you read it/));
    const bad = structuredClone(saved);
    bad.Steps.push({ ...structuredClone(step), Id: '', Name: 'Two', Actions: [{ ...structuredClone(step.Actions[0]!), Id: '', Name: 'Two', ActionType: 'Octopus.Nope' }] });
    await assert.rejects(repo.update(project, bad), refusedWith(400, /Octopus\.Nope.*does not run/s));
    const twice = structuredClone(saved);
    twice.Steps.push({ ...structuredClone(step), Id: '' });
    await assert.rejects(repo.update(project, twice), refusedWith(400, /Two steps are named "Say hello"/));
    const after = await new DeploymentProcessRepository(clientB, space.Name).get(project);
    assert.equal(after.Version, saved.Version, 'nothing half-written');
    assert.equal(after.Steps.length, 1);
  });

  it('keeps sensitive values sealed in the database, never returns them and keeps them when a PUT sends their Id with a null value', async () => {
    const path = `/api/${space.Id}/variables/${project.VariableSetId}`;
    const current = (await api(a.url, path, { apiKey: ADMIN_API_KEY })).body;
    const put = await api(a.url, path, {
      method: 'PUT', apiKey: ADMIN_API_KEY,
      body: {
        ...current,
        Variables: [
          { Id: '', Name: 'Greeting', Value: 'hello everyone', Scope: {} },
          { Id: '', Name: 'Greeting', Value: 'hello dev', Scope: { Environment: [dev.Id] } },
          { Id: '', Name: 'Password', Value: 'pa55-w0rd-secret', IsSensitive: true, Type: 'Sensitive', Scope: {} },
        ],
      },
    });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const password = (put.body.Variables as { Name: string; Value: unknown; Id: string; IsSensitive: boolean }[]).find((v) => v.Name === 'Password')!;
    assert.equal(password.Value, null);
    assert.equal(password.IsSensitive, true);
    const stored = await adminQuery(`SELECT variables::text AS t FROM variable_sets WHERE id = $1`, [project.VariableSetId], cluster.databaseUrl);
    assert.doesNotMatch(stored.rows[0]!.t as string, /pa55-w0rd-secret/, 'never plaintext in the database');
    assert.match(stored.rows[0]!.t as string, /hello dev/);

    // Read back through B and sent again unchanged: the sealed value stays.
    const readBack = (await api(b.url, path, { apiKey: ADMIN_API_KEY })).body;
    assert.ok(!JSON.stringify(readBack).includes('pa55-w0rd-secret'));
    assert.deepEqual(readBack.ScopeValues.Environments.map((e: { Name: string }) => e.Name), ['Dev', 'Prod']);
    const again = await api(b.url, path, { method: 'PUT', apiKey: ADMIN_API_KEY, body: readBack });
    assert.equal(again.status, 200);
    const after = await adminQuery(`SELECT variables AS v FROM variable_sets WHERE id = $1`, [project.VariableSetId], cluster.databaseUrl);
    const sealed = (after.rows[0]!.v as { Name: string; Sealed?: string }[]).find((v) => v.Name === 'Password')!.Sealed;
    const sealedBefore = (JSON.parse(stored.rows[0]!.t as string) as { Name: string; Sealed?: string }[]).find((v) => v.Name === 'Password')!.Sealed;
    assert.ok(sealed);
    assert.equal(sealed, sealedBefore, 'kept, not re-sealed as empty');

    // Stale versions, bad names and unknown scopes are refused, with nothing written.
    assertRefused(await api(a.url, path, { method: 'PUT', apiKey: ADMIN_API_KEY, body: current }), 409, /changed since you read them/);
    for (const [name, pattern] of [['', /name is empty/], ['Bad#{x', /contains "#\{"/], ['Bad}', /contains "\}"/]] as const) {
      const r = await api(a.url, path, { method: 'PUT', apiKey: ADMIN_API_KEY, body: { ...again.body, Variables: [{ Name: name, Value: 'x' }] } });
      assertRefused(r, 400, pattern);
    }
    assertRefused(await api(a.url, path, { method: 'PUT', apiKey: ADMIN_API_KEY, body: { ...again.body, Variables: [{ Name: 'X', Value: 'x', Scope: { Environment: ['Environments-999'] } }] } }), 400, /Environments-999/);
    const final = (await api(a.url, path, { apiKey: ADMIN_API_KEY })).body;
    assert.equal(final.Version, again.body.Version);
    assert.equal(final.Variables.length, 3);
    void prod;
  });

  it('adds channels to a project, keeps one default and refuses deleting the default', async () => {
    const created = await api(a.url, `/api/${space.Id}/channels`, { method: 'POST', apiKey: ADMIN_API_KEY, body: { Name: 'Hotfix', ProjectId: project.Id, IsDefault: true } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const list = (await api(b.url, `/api/${space.Id}/projects/${project.Id}/channels`, { apiKey: ADMIN_API_KEY })).body;
    assert.deepEqual(list.Items.map((c: { Name: string; IsDefault: boolean }) => [c.Name, c.IsDefault]), [['Hotfix', true], ['Default', false]]);
    assertRefused(await api(a.url, `/api/${space.Id}/channels/${created.body.Id}`, { method: 'DELETE', apiKey: ADMIN_API_KEY }), 409, /default channel/);
    assertRefused(await api(a.url, `/api/${space.Id}/channels`, { method: 'POST', apiKey: ADMIN_API_KEY, body: { Name: 'hotfix', ProjectId: project.Id } }), 409, /already exists/);
    const old = list.Items[1];
    const made = await api(a.url, `/api/${space.Id}/channels/${old.Id}`, { method: 'PUT', apiKey: ADMIN_API_KEY, body: { ...old, IsDefault: true } });
    assert.equal(made.status, 200);
    assert.equal((await api(a.url, `/api/${space.Id}/channels/${created.body.Id}`, { method: 'DELETE', apiKey: ADMIN_API_KEY })).status, 200);
  });
});
