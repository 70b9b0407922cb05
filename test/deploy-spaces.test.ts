// Spaces and environments through the official client (@octopusdeploy/api-client) on a cluster of
// two real `cuttle run` processes, and bad input through plain HTTP.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client, EnvironmentRepository, SpaceRepository, checkForCapability } from '@octopusdeploy/api-client';
import { ADMIN_API_KEY, assertRefused, refusedWith, adminQuery, api, readyCluster, startNode, waitFor, type NodeProcess } from './helpers.js';

describe('spaces and environments through the official client on two nodes', () => {
  let a: NodeProcess;
  let b: NodeProcess;
  let clientA: Client;
  let clientB: Client;
  let adminId: string;
  let databaseUrl: string;

  before(async () => {
    const c = await readyCluster(['a', 'b']);
    databaseUrl = c.databaseUrl;
    [a, b] = await Promise.all([startNode(c.homes[0]!, 'a'), startNode(c.homes[1]!, 'b')]);
    clientA = await Client.create({ instanceURL: a.url, apiKey: ADMIN_API_KEY, userAgentApp: 'cuttle-tests' });
    clientB = await Client.create({ instanceURL: b.url, apiKey: ADMIN_API_KEY, userAgentApp: 'cuttle-tests' });
    adminId = (await api(a.url, '/api/users/me', { apiKey: ADMIN_API_KEY })).body.Id;
  });
  after(async () => { await Promise.all([a.kill('SIGTERM'), b.kill('SIGTERM')]); });

  it('reports an Octopus version the client accepts, Cuttle\'s own version apart, and its capabilities', async () => {
    const info = await clientA.getServerInformation();
    assert.equal(info.version, '2024.1.0');
    const root = await api(a.url, '/api');
    assert.equal(root.body.Version, '2024.1.0');
    assert.equal(root.body.CuttleVersion, '0.1.0');
    assert.equal(root.body.Links.Spaces, '/api/spaces{/id}{?skip,take,ids,partialName}');
    assert.equal(await checkForCapability(clientA, 'GetAllSpacesRequest', '2022.1'), null);
    assert.match(await checkForCapability(clientA, 'NoSuchCapabilityRequest', '2099.1') ?? '', /does not support NoSuchCapabilityRequest/);
  });

  it('has the default space, and creates, lists, reads, modifies and deletes a space (only once its queue is stopped)', async () => {
    const spaces = new SpaceRepository(clientA);
    const defaults = await spaces.list({ partialName: 'Default' });
    assert.deepEqual(defaults.Items.map((s) => [s.Id, s.Name, s.IsDefault]), [['Spaces-1', 'Default', true]]);

    const made = await spaces.create({ Name: 'Marketing', SpaceManagersTeams: [], SpaceManagersTeamMembers: [adminId], IsDefault: false });
    assert.match(made.Id, /^Spaces-\d+$/);
    assert.notEqual(made.Id, 'Spaces-1');
    assert.equal(made.IsDefault, false);
    assert.equal(made.TaskQueueStopped, false);
    assert.deepEqual(made.SpaceManagersTeamMembers, [adminId]);
    assert.deepEqual(made.SpaceManagersTeams, []);
    assert.equal(made.Slug, 'marketing');

    const found = await spaces.list({ partialName: 'arket' });
    assert.equal(found.TotalResults, 1);
    assert.equal(found.Items[0]?.Id, made.Id);
    assert.equal((await spaces.list({ partialName: 'no such space' })).TotalResults, 0);
    assert.equal((await spaces.get(made.Id)).Name, 'Marketing');

    const changed = await spaces.modify({ ...made, Description: 'campaign sites' });
    assert.equal(changed.Description, 'campaign sites');
    assert.equal((await new SpaceRepository(clientB).get(made.Id)).Description, 'campaign sites', 'the other node reads the change');

    await assert.rejects(spaces.del(made), refusedWith(409, /TaskQueueStopped/));
    assert.equal((await spaces.get(made.Id)).Name, 'Marketing', 'the refused delete removed nothing');
    await assert.rejects(spaces.create({ Name: 'MARKETING', SpaceManagersTeams: [], SpaceManagersTeamMembers: [], IsDefault: false }), refusedWith(409, /named "MARKETING" already exists/));

    const stopped = await spaces.modify({ ...changed, TaskQueueStopped: true });
    assert.equal(stopped.TaskQueueStopped, true);
    await spaces.del(stopped);
    await assert.rejects(spaces.get(made.Id), refusedWith(404, new RegExp(`no space ${made.Id}`)));
    await assert.rejects(spaces.del({ ...(await spaces.get('Spaces-1')), TaskQueueStopped: true }), refusedWith(409, /default space/));
  });

  it('refuses to delete a stopped space while it still has a running task, and deletes it once the task ended', async () => {
    const K = { apiKey: ADMIN_API_KEY };
    const space = (await api(a.url, '/api/spaces', { ...K, method: 'POST', body: { Name: 'Busy', SpaceManagersTeamMembers: [adminId] } })).body;
    // Tasks of other spaces come from deployments (a later slice): this one is moved there.
    const t = (await api(a.url, '/api/tasks', { ...K, method: 'POST', body: { Name: 'AdHocScript', Arguments: { ScriptBody: 'sleep 30' } } })).body;
    await adminQuery('UPDATE server_tasks SET space_id = $1 WHERE id = $2', [space.Id, t.Id], databaseUrl);
    const inSpace = async () => (await api(a.url, `/api/${space.Id}/tasks/${t.Id}`, K)).body;
    await waitFor('the task running in the new space', async () => (await inSpace()).State === 'Executing', 20_000);
    await api(b.url, `/api/spaces/${space.Id}`, { ...K, method: 'PUT', body: { ...space, TaskQueueStopped: true } });
    assertRefused(await api(b.url, `/api/spaces/${space.Id}`, { ...K, method: 'DELETE' }), 409, /still has queued or running tasks/);
    assert.equal((await api(a.url, `/api/spaces/${space.Id}`, K)).status, 200, 'the space is still there');
    await api(a.url, `/api/${space.Id}/tasks/${t.Id}/cancel`, { ...K, method: 'POST' });
    await waitFor('the task canceled', async () => (await inSpace()).State === 'Canceled', 20_000);
    assert.equal((await api(b.url, `/api/spaces/${space.Id}`, { ...K, method: 'DELETE' })).status < 300, true);
  });

  it('manages environments in a new space through the other node, each space seeing only its own', async () => {
    const ops = await new SpaceRepository(clientA).create({ Name: 'Ops', SpaceManagersTeams: [], SpaceManagersTeamMembers: [adminId], IsDefault: false });
    // Node B resolves the space by name, as the client does, and serves the environments.
    const envs = new EnvironmentRepository(clientB, 'Ops');
    const dev = await envs.create({ Name: 'Dev' });
    const staging = await envs.create({ Name: 'Staging', Description: 'pre-production', UseGuidedFailure: true });
    const prod = await envs.create({ Name: 'Production' });
    for (const e of [dev, staging, prod]) {
      assert.match(e.Id, /^Environments-\d+$/);
      assert.equal(e.SpaceId, ops.Id);
    }
    assert.deepEqual([dev.SortOrder, staging.SortOrder, prod.SortOrder], [0, 1, 2], 'each new environment goes last');
    assert.equal(staging.UseGuidedFailure, true);
    assert.equal(dev.AllowDynamicInfrastructure, false);

    const all = await envs.list({});
    assert.deepEqual(all.Items.map((e) => e.Name), ['Dev', 'Staging', 'Production']);
    assert.equal(all.TotalResults, 3);
    const second = await envs.list({ skip: 1, take: 1 });
    assert.deepEqual(second.Items.map((e) => e.Name), ['Staging']);
    assert.equal(second.TotalResults, 3);
    assert.deepEqual((await envs.list({ ids: [prod.Id, dev.Id] })).Items.map((e) => e.Id), [dev.Id, prod.Id]);
    assert.deepEqual((await envs.list({ partialName: 'PROD' })).Items.map((e) => e.Id), [prod.Id]);
    assert.equal((await envs.get(staging.Id)).Description, 'pre-production');

    const renamed = await envs.modify({ ...staging, Name: 'QA', Description: 'tests', UseGuidedFailure: false });
    assert.equal(renamed.Name, 'QA');
    assert.equal(renamed.UseGuidedFailure, false);
    assert.equal((await new EnvironmentRepository(clientA, 'Ops').get(staging.Id)).Name, 'QA', 'node A reads the change');

    await assert.rejects(envs.create({ Name: 'dev' }), refusedWith(409, /environment named "dev" already exists/));
    await assert.rejects(envs.modify({ ...renamed, Name: 'PRODUCTION' }), refusedWith(409, /"PRODUCTION" already exists/));
    assert.equal((await envs.get(staging.Id)).Name, 'QA', 'the refused rename changed nothing');

    // The default space sees none of them, and may use the same names.
    const defaultEnvs = new EnvironmentRepository(clientA, 'Default');
    await assert.rejects(defaultEnvs.get(dev.Id), refusedWith(404, new RegExp(`no environment ${dev.Id} in space Spaces-1`)));
    assert.equal((await defaultEnvs.list({ partialName: 'Dev' })).TotalResults, 0);
    const otherDev = await defaultEnvs.create({ Name: 'Dev' });
    assert.equal(otherDev.SpaceId, 'Spaces-1');
    await assert.rejects(defaultEnvs.del(prod), refusedWith(404, /no environment/));
    assert.equal((await envs.get(prod.Id)).Name, 'Production', 'a delete through another space removed nothing');

    await envs.del(prod);
    await assert.rejects(envs.get(prod.Id), refusedWith(404, /no environment/));
    assert.deepEqual((await envs.list({})).Items.map((e) => e.Name), ['Dev', 'QA']);

    // Deleting the space takes its environments with it.
    const spaces = new SpaceRepository(clientA);
    await spaces.del(await spaces.modify({ ...ops, TaskQueueStopped: true }));
    const gone = await api(b.url, `/api/${ops.Id}/environments/${dev.Id}`, { apiKey: ADMIN_API_KEY });
    assertRefused(gone, 404, new RegExp(`no space ${ops.Id}`));
  });

  it('serves the default space\'s environments on the unscoped routes too, binding field names in any case', async () => {
    const made = await api(a.url, '/api/environments', { apiKey: ADMIN_API_KEY, body: { name: 'Lowercase', sortorder: 40, description: 'bound' } });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    assert.equal(made.body.Name, 'Lowercase');
    assert.equal(made.body.SortOrder, 40);
    assert.equal(made.body.SpaceId, 'Spaces-1');
    const scoped = await api(b.url, `/api/Spaces-1/environments/${made.body.Id}`, { apiKey: ADMIN_API_KEY });
    assert.equal(scoped.body.Description, 'bound');
    const allRoute = await api(b.url, '/api/Spaces-1/environments/all', { apiKey: ADMIN_API_KEY });
    assert.ok((allRoute.body as { Id: string }[]).some((e) => e.Id === made.body.Id));
    const spaces = await api(b.url, '/api/spaces/all', { apiKey: ADMIN_API_KEY });
    assert.ok((spaces.body as { Id: string }[]).some((s) => s.Id === 'Spaces-1'));
  });

  it('refuses bad input with Octopus\'s error body, listing every problem, and writes nothing', async () => {
    const wrong = await api(a.url, '/api/Spaces-1/environments', { apiKey: ADMIN_API_KEY, body: { Name: 5, SortOrder: 'first', UseGuidedFailure: 'yes' } });
    assertRefused(wrong, 400, /Name must be string/);
    assert.equal(wrong.body.Errors.length, 3, JSON.stringify(wrong.body));
    assert.match(wrong.body.Errors.join('\n'), /SortOrder must be integer/);
    assert.match(wrong.body.Errors.join('\n'), /UseGuidedFailure must be boolean/);
    assertRefused(await api(a.url, '/api/Spaces-1/environments', { apiKey: ADMIN_API_KEY, body: {} }), 400, /Name/);
    assertRefused(await api(a.url, '/api/Spaces-1/environments', { apiKey: ADMIN_API_KEY, body: { Name: '   ' } }), 400, /Name must not be empty/);
    assertRefused(await api(a.url, '/api/Spaces-1/environments', { apiKey: ADMIN_API_KEY, body: ['Dev'] }), 400, /must be object/);
    assertRefused(await api(a.url, '/api/Spaces-1/environments', { apiKey: ADMIN_API_KEY, rawBody: '{"Name": "Dev",' }), 400, /not valid JSON/);
    assertRefused(await api(a.url, '/api/spaces', { apiKey: ADMIN_API_KEY, body: { Name: 'X', TaskQueueStopped: 'no', SpaceManagersTeamMembers: 'Users-1' } }), 400, /TaskQueueStopped must be boolean/);
    assertRefused(await api(a.url, '/api/Spaces-99/environments', { apiKey: ADMIN_API_KEY }), 404, /no space Spaces-99/);
    assertRefused(await api(a.url, '/api/Spaces-99/environments', { apiKey: ADMIN_API_KEY, body: { Name: 'Dev' } }), 404, /no space Spaces-99/);
    assertRefused(await api(a.url, '/api/Spaces-1/environments?take=many', { apiKey: ADMIN_API_KEY }), 400, /take/);
    const listed = await api(a.url, '/api/Spaces-1/environments?partialName=first&take=100', { apiKey: ADMIN_API_KEY });
    assert.equal(listed.body.TotalResults, 0, 'nothing was written by the refused requests');
    assertRefused(await api(a.url, '/api/Spaces-1/environments/Environments-99999', { apiKey: ADMIN_API_KEY }), 404, /no environment Environments-99999/);
  });

  it('lets any signed-in user see spaces and environments, nobody unsigned, and only administrators change them', async () => {
    const user = await api(a.url, '/api/users', { apiKey: ADMIN_API_KEY, body: { Username: 'viewer', DisplayName: 'Viewer', Password: 'a long enough password' } });
    assert.equal(user.status, 201, JSON.stringify(user.body));
    const key = (await api(a.url, `/api/users/${user.body.Id}/apikeys`, { apiKey: ADMIN_API_KEY, body: { Purpose: 'test' } })).body.ApiKey as string;
    for (const path of ['/api/spaces', '/api/spaces/Spaces-1', '/api/Spaces-1/environments', '/api/environments', '/api/capabilities']) {
      assertRefused(await api(b.url, path), 401, /signed in/);
    }
    assert.equal((await api(b.url, '/api/spaces', { apiKey: key })).status, 200);
    assert.equal((await api(b.url, '/api/Spaces-1/environments', { apiKey: key })).status, 200);
    assertRefused(await api(b.url, '/api/Spaces-1/environments', { apiKey: key, body: { Name: 'Mine' } }), 403, /EnvironmentEdit/);
    assertRefused(await api(b.url, '/api/spaces', { apiKey: key, body: { Name: 'Mine' } }), 403, /administrator/);
    assertRefused(await api(b.url, '/api/spaces/Spaces-1', { apiKey: key, method: 'DELETE' }), 403, /administrator/);
    assert.equal((await api(b.url, '/api/Spaces-1/environments?partialName=Mine', { apiKey: ADMIN_API_KEY })).body.TotalResults, 0);
  });
});
