// Lifecycles, project groups, a new space's defaults and the tasks of any space, through the
// official client (@octopusdeploy/api-client) on a cluster of two real `cuttle run` processes.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  Client, EnvironmentRepository, LifecycleRepository, ProjectGroupRepository, RetentionUnit, ServerTaskWaiter, SpaceRepository, SpaceServerTaskRepository,
  type DeploymentEnvironment, type Lifecycle, type Space,
} from '@octopusdeploy/api-client';
import { ADMIN_API_KEY, assertRefused, refusedWith, adminQuery, api, queueTask, readyCluster, startNode, type NodeProcess, type TestCluster } from './helpers.js';

const KEEP_3_RELEASES = { Unit: RetentionUnit.Items, QuantityToKeep: 3, ShouldKeepForever: false };

describe('lifecycles, project groups and the tasks of any space through the official client on two nodes', () => {
  let cluster: TestCluster;
  let a: NodeProcess;
  let b: NodeProcess;
  let clientA: Client;
  let clientB: Client;
  let adminId: string;
  let space: Space;

  before(async () => {
    cluster = await readyCluster(['a', 'b']);
    [a, b] = await Promise.all([startNode(cluster.homes[0]!, 'a'), startNode(cluster.homes[1]!, 'b')]);
    clientA = await Client.create({ instanceURL: a.url, apiKey: ADMIN_API_KEY, userAgentApp: 'cuttle-tests' });
    clientB = await Client.create({ instanceURL: b.url, apiKey: ADMIN_API_KEY, userAgentApp: 'cuttle-tests' });
    adminId = (await api(a.url, '/api/users/me', { apiKey: ADMIN_API_KEY })).body.Id;
    space = await new SpaceRepository(clientA).create({ Name: 'Releases', SpaceManagersTeams: [], SpaceManagersTeamMembers: [adminId], IsDefault: false });
  });
  after(async () => { await Promise.all([a.kill('SIGTERM'), b.kill('SIGTERM')]); });

  it('gives a new space, and the default space, a default lifecycle and project group the client finds as Items[0]', async () => {
    for (const [client, name, id] of [[clientB, space.Name, space.Id], [clientA, 'Default', 'Spaces-1']] as const) {
      const lifecycles = await new LifecycleRepository(client, name).list({ take: 1 });
      assert.equal(lifecycles.TotalResults, 1, name);
      const lifecycle = lifecycles.Items[0]!;
      assert.match(lifecycle.Id, /^Lifecycles-\d+$/);
      assert.equal(lifecycle.Name, 'Default Lifecycle');
      assert.equal(lifecycle.SpaceId, id);
      assert.deepEqual(lifecycle.Phases, [], 'no phases: every environment allowed');
      assert.equal(lifecycle.ReleaseRetentionPolicy.ShouldKeepForever, true);
      const groups = await new ProjectGroupRepository(client, name).list({ take: 1 });
      assert.equal(groups.TotalResults, 1, name);
      assert.match(groups.Items[0]!.Id, /^ProjectGroups-\d+$/);
      assert.equal(groups.Items[0]!.Name, 'Default Project Group');
      assert.equal(groups.Items[0]!.SpaceId, id);
    }
    const inDefault = (await new LifecycleRepository(clientA, 'Default').list({ take: 1 })).Items[0]!;
    const inNew = (await new LifecycleRepository(clientA, space.Name).list({ take: 1 })).Items[0]!;
    assert.notEqual(inDefault.Id, inNew.Id, 'each space has its own');
    const unscoped = await api(b.url, '/api/lifecycles', { apiKey: ADMIN_API_KEY });
    assert.deepEqual((unscoped.body.Items as Lifecycle[]).map((l) => l.Id), [inDefault.Id], 'the unscoped route is the default space');
  });

  it('creates a phased lifecycle through one node, reads and modifies it through the other, and refuses unknown environments and duplicate phases', async () => {
    const envs = new EnvironmentRepository(clientA, space.Name);
    const [dev, staging, prod] = [await envs.create({ Name: 'Dev' }), await envs.create({ Name: 'Staging' }), await envs.create({ Name: 'Prod' })] as [DeploymentEnvironment, DeploymentEnvironment, DeploymentEnvironment];
    const onA = new LifecycleRepository(clientA, space.Name);
    const onB = new LifecycleRepository(clientB, space.Name);

    const made = await onA.create({
      Name: 'Dev to Prod',
      Description: 'three phases',
      Phases: [
        { Id: '', Name: 'Dev', AutomaticDeploymentTargets: [dev.Id], OptionalDeploymentTargets: [], MinimumEnvironmentsBeforePromotion: 0, IsOptionalPhase: false },
        { Name: 'Staging', OptionalDeploymentTargets: [staging.Id], MinimumEnvironmentsBeforePromotion: 1, IsOptionalPhase: false, ReleaseRetentionPolicy: KEEP_3_RELEASES } as Lifecycle['Phases'][number],
        { Id: '', Name: 'Prod', OptionalDeploymentTargets: [prod.Id], MinimumEnvironmentsBeforePromotion: 0, IsOptionalPhase: false },
      ],
      ReleaseRetentionPolicy: { Unit: RetentionUnit.Days, QuantityToKeep: 30, ShouldKeepForever: false },
      TentacleRetentionPolicy: { Unit: RetentionUnit.Items, QuantityToKeep: 5, ShouldKeepForever: false },
    } as unknown as Lifecycle);
    assert.match(made.Id, /^Lifecycles-\d+$/);
    assert.equal(made.SpaceId, space.Id);
    assert.deepEqual(made.Phases.map((p) => p.Name), ['Dev', 'Staging', 'Prod']);
    const phaseIds = made.Phases.map((p) => p.Id);
    assert.ok(phaseIds.every((id) => typeof id === 'string' && id.length > 0), `phase ids assigned: ${JSON.stringify(phaseIds)}`);
    assert.equal(new Set(phaseIds).size, 3, 'each phase its own id');
    assert.deepEqual(made.Phases[0]!.AutomaticDeploymentTargets, [dev.Id]);
    assert.deepEqual(made.Phases[1]!.AutomaticDeploymentTargets, [], 'absent targets are an empty list');
    assert.deepEqual(made.Phases[1]!.OptionalDeploymentTargets, [staging.Id]);
    assert.equal(made.Phases[1]!.MinimumEnvironmentsBeforePromotion, 1);
    assert.deepEqual(made.Phases[1]!.ReleaseRetentionPolicy, KEEP_3_RELEASES);
    assert.equal(made.Phases[0]!.ReleaseRetentionPolicy, null, 'a phase without its own policy uses the lifecycle\'s');
    assert.deepEqual(made.ReleaseRetentionPolicy, { Unit: 'Days', QuantityToKeep: 30, ShouldKeepForever: false });
    assert.deepEqual(made.TentacleRetentionPolicy, { Unit: 'Items', QuantityToKeep: 5, ShouldKeepForever: false });

    const read = await onB.get(made.Id);
    assert.deepEqual(read, made, 'node B reads what node A made');
    const listed = await onB.list({ partialName: 'to prod' });
    assert.deepEqual(listed.Items.map((l) => l.Id), [made.Id]);

    // Modify through B: Staging becomes optional, a new QA phase (id assigned) goes before Prod.
    const qa = await envs.create({ Name: 'QA' });
    const phases = [made.Phases[0]!, { ...made.Phases[1]!, IsOptionalPhase: true }, { Id: '', Name: 'QA', AutomaticDeploymentTargets: [qa.Id], OptionalDeploymentTargets: [], MinimumEnvironmentsBeforePromotion: 0, IsOptionalPhase: false }, made.Phases[2]!];
    const changed = await onB.modify({ ...read, Description: 'four phases', Phases: phases });
    assert.equal(changed.Description, 'four phases');
    assert.deepEqual(changed.Phases.map((p) => p.Name), ['Dev', 'Staging', 'QA', 'Prod']);
    assert.deepEqual([changed.Phases[0]!.Id, changed.Phases[1]!.Id, changed.Phases[3]!.Id], phaseIds, 'phases sent with their ids keep them');
    assert.ok(changed.Phases[2]!.Id && !phaseIds.includes(changed.Phases[2]!.Id), 'the new phase got a new id');
    assert.equal(changed.Phases[1]!.IsOptionalPhase, true);
    assert.deepEqual(await onA.get(made.Id), changed, 'node A reads the change');

    // An environment of no space, and one of another space, are refused naming them; nothing changes.
    const elsewhere = await new EnvironmentRepository(clientA, 'Default').create({ Name: 'Elsewhere' });
    await assert.rejects(onA.modify({ ...changed, Phases: [...changed.Phases, { Id: '', Name: 'Extra', AutomaticDeploymentTargets: ['Environments-98765'], OptionalDeploymentTargets: [elsewhere.Id], MinimumEnvironmentsBeforePromotion: 0, IsOptionalPhase: false }] }),
      (err) => refusedWith(400, /environment Environments-98765, which does not exist/)(err) && refusedWith(400, new RegExp(`environment ${elsewhere.Id}, which does not exist in space ${space.Id}`))(err));
    assert.deepEqual(await onB.get(made.Id), changed, 'the refused modify changed nothing');
    await assert.rejects(onB.create({ Name: 'Bad', Phases: [{ Id: '', Name: 'One', AutomaticDeploymentTargets: ['Environments-98765'], OptionalDeploymentTargets: [], MinimumEnvironmentsBeforePromotion: 0, IsOptionalPhase: false }] } as unknown as Lifecycle),
      refusedWith(400, /Environments-98765/));
    assert.equal((await onA.list({ partialName: 'Bad' })).TotalResults, 0, 'the refused create wrote nothing');

    // Duplicate phase names (case-insensitive), an environment in two phases, an impossible minimum.
    await assert.rejects(onA.modify({ ...changed, Phases: [...changed.Phases, { Id: '', Name: 'prod', AutomaticDeploymentTargets: [], OptionalDeploymentTargets: [], MinimumEnvironmentsBeforePromotion: 0, IsOptionalPhase: false }] }),
      refusedWith(400, /Two phases are named "prod"/));
    await assert.rejects(onA.modify({ ...changed, Phases: [changed.Phases[0]!, { ...changed.Phases[1]!, AutomaticDeploymentTargets: [dev.Id] }] }),
      refusedWith(400, new RegExp(`environment ${dev.Id} is in both Phase "Dev" and Phase "Staging"`)));
    await assert.rejects(onA.modify({ ...changed, Phases: [{ ...changed.Phases[0]!, MinimumEnvironmentsBeforePromotion: 2 }] }),
      refusedWith(400, /asks for 2 environments before promotion but has only 1/));
    await assert.rejects(onB.create({ Name: 'DEV TO PROD' } as Lifecycle), refusedWith(409, /lifecycle named "DEV TO PROD" already exists/));
    assert.deepEqual(await onB.get(made.Id), changed, 'nothing changed');

    // An environment a lifecycle uses cannot be deleted (naming the lifecycle) until the lifecycle is gone.
    const envsB = new EnvironmentRepository(clientB, space.Name);
    await assert.rejects(envsB.del(qa), refusedWith(409, new RegExp(`environment ${qa.Id} \\(QA\\) cannot be deleted: it is still used by lifecycle ${made.Id} \\(Dev to Prod\\)`)));
    assert.equal((await envsB.get(qa.Id)).Name, 'QA', 'the refused delete removed nothing');
    // Taken out of the phases, it may go; the others are still held.
    const withoutQa = await onA.modify({ ...changed, Phases: changed.Phases.filter((p) => p.Name !== 'QA') });
    await envsB.del(qa);
    await assert.rejects(envsB.get(qa.Id), refusedWith(404, /no environment/));
    await assert.rejects(envsB.del(prod), refusedWith(409, new RegExp(`lifecycle ${made.Id}`)));
    await onB.del(withoutQa);
    await assert.rejects(onA.get(made.Id), refusedWith(404, new RegExp(`no lifecycle ${made.Id} in space ${space.Id}`)));
    await envsB.del(prod);
    assert.deepEqual((await envs.list({})).Items.map((e) => e.Name), ['Dev', 'Staging']);

    // Another space does not see the lifecycle.
    const other = await new LifecycleRepository(clientA, 'Default').list({ partialName: 'Dev to Prod' });
    assert.equal(other.TotalResults, 0);
  });

  it('lists lifecycles with ids and paging, and refuses wrong types with Octopus\'s error body', async () => {
    const base = `/api/${space.Id}/lifecycles`;
    const one = await api(a.url, base, { apiKey: ADMIN_API_KEY, body: { name: 'Lowercase Fields', phases: [] } });
    assert.equal(one.status, 201, JSON.stringify(one.body));
    assert.equal(one.body.Name, 'Lowercase Fields');
    const all = await api(b.url, `${base}?skip=0&take=1`, { apiKey: ADMIN_API_KEY });
    assert.equal(all.body.TotalResults, 2);
    assert.equal(all.body.ItemType, 'Lifecycle');
    assert.equal((all.body.Items as unknown[]).length, 1);
    const byId = await api(b.url, `${base}?ids=${one.body.Id as string}`, { apiKey: ADMIN_API_KEY });
    assert.deepEqual((byId.body.Items as Lifecycle[]).map((l) => l.Id), [one.body.Id]);

    const wrong = await api(a.url, base, { apiKey: ADMIN_API_KEY, body: { Name: 'Wrong', Phases: [{ Name: 'P', MinimumEnvironmentsBeforePromotion: 'two', AutomaticDeploymentTargets: 'Environments-1' }], ReleaseRetentionPolicy: { Unit: 'Weeks', QuantityToKeep: 1, ShouldKeepForever: false } } });
    assertRefused(wrong, 400, /MinimumEnvironmentsBeforePromotion/);
    assert.match(JSON.stringify(wrong.body.Errors), /AutomaticDeploymentTargets/);
    assert.match(JSON.stringify(wrong.body.Errors), /Unit/);
    assertRefused(await api(a.url, base, { apiKey: ADMIN_API_KEY, body: { Name: 'Nameless phase', Phases: [{ Name: ' ' }] } }), 400, /Phase 1 has no Name/);
    assert.equal((await api(a.url, `${base}?partialName=wrong`, { apiKey: ADMIN_API_KEY })).body.TotalResults, 0, 'nothing written');
    assertRefused(await api(a.url, '/api/Spaces-424242/lifecycles', { apiKey: ADMIN_API_KEY }), 404, /no space Spaces-424242/);
  });

  it('creates, lists, modifies and deletes project groups, refusing a duplicate name with 409', async () => {
    const groups = new ProjectGroupRepository(clientA, space.Name);
    const groupsB = new ProjectGroupRepository(clientB, space.Name);
    const web = await groups.create({ Name: 'Web', Description: 'sites' } as Parameters<typeof groups.create>[0]);
    assert.match(web.Id, /^ProjectGroups-\d+$/);
    assert.equal(web.SpaceId, space.Id);
    assert.equal(web.Description, 'sites');
    const raw = (await api(b.url, `/api/${space.Id}/projectgroups/${web.Id}`, { apiKey: ADMIN_API_KEY })).body;
    assert.deepEqual(raw.EnvironmentIds, []);
    assert.equal(raw.RetentionPolicyId, null);
    assert.equal(raw.Links.Self, `/api/${space.Id}/projectgroups/${web.Id}`);

    assert.deepEqual((await groupsB.list({})).Items.map((g) => g.Name), ['Default Project Group', 'Web']);
    assert.deepEqual((await groupsB.list({ partialName: 'we' })).Items.map((g) => g.Id), [web.Id]);

    await assert.rejects(groupsB.create({ Name: 'WEB' } as Parameters<typeof groups.create>[0]), refusedWith(409, /project group named "WEB" already exists/));
    await assert.rejects(groupsB.modify({ ...web, Name: 'default project group' }), refusedWith(409, /"default project group" already exists/));

    const dev = (await new EnvironmentRepository(clientB, space.Name).list({ partialName: 'Dev' })).Items[0]!;
    const renamed = await groupsB.modify({ ...web, Name: 'Websites', EnvironmentIds: [dev.Id] } as typeof web);
    assert.equal(renamed.Name, 'Websites');
    assert.deepEqual((renamed as unknown as { EnvironmentIds: string[] }).EnvironmentIds, [dev.Id]);
    assert.equal((await groups.get(web.Id)).Name, 'Websites', 'node A reads the change');
    await assert.rejects(groups.modify({ ...renamed, EnvironmentIds: ['Environments-55555'] } as typeof web), refusedWith(400, /environment Environments-55555, which does not exist/));
    await assert.rejects(new EnvironmentRepository(clientA, space.Name).del(dev), refusedWith(409, new RegExp(`project group ${web.Id} \\(Websites\\)`)));

    await assert.rejects(new ProjectGroupRepository(clientA, 'Default').get(web.Id), refusedWith(404, new RegExp(`no project group ${web.Id} in space Spaces-1`)));
    await groupsB.del(renamed);
    await assert.rejects(groups.get(web.Id), refusedWith(404, /no project group/));
    assert.deepEqual((await groups.list({})).Items.map((g) => g.Name), ['Default Project Group']);
  });

  it('answers the tasks of any existing space, and 404 naming a space that does not exist', async () => {
    // A task of the new space (tasks of other spaces come from deployments, a later part: moved here by SQL).
    const t = await queueTask(a, { Name: 'AdHocScript', Arguments: { ScriptBody: 'sleep 1; echo in-the-new-space' } });
    await adminQuery('UPDATE server_tasks SET space_id = $1 WHERE id = $2', [space.Id, t.Id], cluster.databaseUrl);
    const done = await new ServerTaskWaiter(clientB, space.Name).waitForServerTaskToComplete(t.Id as string, 200, 30_000);
    assert.equal(done?.Id, t.Id, 'the waiter found the task in its space');
    assert.equal(done?.State, 'Success');
    const repo = new SpaceServerTaskRepository(clientA, space.Name);
    assert.match(await repo.getRaw(t.Id as string), /in-the-new-space/);

    const other = await queueTask(b, { Name: 'Noop' });
    const listed = await api(a.url, `/api/${space.Id}/tasks?skip=0&take=300&ids=${t.Id as string},${other.Id as string},ServerTasks-999999`, { apiKey: ADMIN_API_KEY });
    assert.equal(listed.status, 200, JSON.stringify(listed.body));
    assert.deepEqual((listed.body.Items as { Id: string }[]).map((x) => x.Id), [t.Id], 'only the space\'s own task; unknown ids left out');
    assert.deepEqual((await repo.getByIds([other.Id as string])).map((x) => x.Id), [], 'a task of the default space is not in this one');
    assert.equal((await api(b.url, `/api/${space.Id}/tasks/${t.Id as string}`, { apiKey: ADMIN_API_KEY })).body.Id, t.Id);
    assertRefused(await api(b.url, `/api/Spaces-1/tasks/${t.Id as string}`, { apiKey: ADMIN_API_KEY }), 404, /no task/);

    assertRefused(await api(a.url, '/api/Spaces-424242/tasks', { apiKey: ADMIN_API_KEY }), 404, /no space Spaces-424242/);
    assertRefused(await api(a.url, `/api/Spaces-424242/tasks/${t.Id as string}`, { apiKey: ADMIN_API_KEY }), 404, /no space Spaces-424242/);
    assertRefused(await api(a.url, `/api/${space.Id}/tasks`, { apiKey: ADMIN_API_KEY, body: { Name: 'Noop' } }), 400, /default space Spaces-1 only/);
    assertRefused(await api(a.url, '/api/Spaces-424242/tasks', { apiKey: ADMIN_API_KEY, body: { Name: 'Noop' } }), 404, /no space Spaces-424242/);
  });

  it('never leaves a lifecycle naming an environment deleted at the same moment through the other node', async () => {
    const envsA = new EnvironmentRepository(clientA, space.Name);
    const lifecyclesB = new LifecycleRepository(clientB, space.Name);
    const outcomes = { lifecycleWon: 0, deleteWon: 0 };
    for (let i = 0; i < 20; i++) {
      const env = await envsA.create({ Name: `Race ${i}` });
      const [saved, deleted] = await Promise.allSettled([
        lifecyclesB.create({ Name: `Race ${i}`, Phases: [{ Id: '', Name: 'Only', AutomaticDeploymentTargets: [env.Id], OptionalDeploymentTargets: [], MinimumEnvironmentsBeforePromotion: 0, IsOptionalPhase: false }] } as unknown as Lifecycle),
        envsA.del(env),
      ]);
      // Exactly one wins, and the loser names the winner.
      if (saved.status === 'fulfilled') {
        assert.equal(deleted.status, 'rejected', `iteration ${i}: both the lifecycle and the delete succeeded`);
        refusedWith(409, new RegExp(`lifecycle ${saved.value.Id}`))(deleted.reason);
        assert.equal((await envsA.get(env.Id)).Id, env.Id);
        await lifecyclesB.del(saved.value);
        await envsA.del(env);
        outcomes.lifecycleWon++;
      } else {
        assert.equal(deleted.status, 'fulfilled', `iteration ${i}: neither succeeded`);
        refusedWith(400, new RegExp(`environment ${env.Id}, which does not exist`))(saved.reason);
        outcomes.deleteWon++;
      }
    }
    const left = await adminQuery('SELECT l.id FROM lifecycles l WHERE EXISTS (SELECT 1 FROM unnest(l.environment_ids) e WHERE NOT EXISTS (SELECT 1 FROM environments WHERE id = e))', [], cluster.databaseUrl);
    assert.equal(left.rowCount, 0, `lifecycles naming deleted environments: ${JSON.stringify(left.rows)} (${JSON.stringify(outcomes)})`);
  });

  it('lets any signed-in user see lifecycles and project groups, and only administrators change them', async () => {
    const user = await api(a.url, '/api/users', { apiKey: ADMIN_API_KEY, body: { Username: 'viewer', DisplayName: 'Viewer', Password: 'a long enough password' } });
    assert.equal(user.status, 201, JSON.stringify(user.body));
    const key = (await api(a.url, `/api/users/${user.body.Id}/apikeys`, { apiKey: ADMIN_API_KEY, body: { Purpose: 'test' } })).body.ApiKey as string;
    for (const path of [`/api/${space.Id}/lifecycles`, '/api/lifecycles', `/api/${space.Id}/projectgroups`]) {
      assertRefused(await api(b.url, path), 401, /signed in/);
      assert.equal((await api(b.url, path, { apiKey: key })).status, 200, path);
    }
    assertRefused(await api(b.url, `/api/${space.Id}/lifecycles`, { apiKey: key, body: { Name: 'Mine' } }), 403, /LifecycleEdit/);
    assertRefused(await api(b.url, `/api/${space.Id}/projectgroups`, { apiKey: key, body: { Name: 'Mine' } }), 403, /ProjectGroupEdit/);
    assert.equal((await api(b.url, `/api/${space.Id}/lifecycles?partialName=Mine`, { apiKey: ADMIN_API_KEY })).body.TotalResults, 0);
  });
});
