// Releases and deployments end to end through the official client (@octopusdeploy/api-client) on a
// cluster of two real `cuttle run` processes: variables (scoped, sensitive, multi-line sensitive),
// output variables between steps, the log tree read through the other node, the lifecycle's phases,
// release snapshots, cancel, and a node killed with SIGKILL in the middle of a deployment.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, existsSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  Client, DeploymentProcessRepository, DeploymentRepository, EnvironmentRepository, LifecycleRepository, ProjectGroupRepository, ProjectRepository,
  ReleaseRepository, RetentionUnit, RunCondition, ServerTaskRepository, ServerTaskWaiter, SpaceRepository, SpaceServerTaskRepository,
  type DeploymentEnvironment, type DeploymentStep, type Lifecycle, type Project, type Space,
} from '@octopusdeploy/api-client';
import {
  ADMIN_API_KEY, adminQuery, api, assertRefused, readyCluster, recordPid, recordedRunning, refusedWith, startNode, tempDir, waitFor,
  type NodeProcess, type TestCluster,
} from './helpers.js';
import { scriptStep } from './octopusSteps.js';

const PASSWORD = 'pa55-w0rd-very-secret';
const MULTI = 'first-line-of-the-key\nsecond-line-of-the-key';
const KEEP = { Unit: RetentionUnit.Days, QuantityToKeep: 0, ShouldKeepForever: true };

describe('releases and deployments through the official client on two nodes', () => {
  let cluster: TestCluster;
  const nodes = new Map<string, NodeProcess>();
  let clientA: Client;
  let clientB: Client;
  let space: Space;
  let envs: Record<'dev' | 'staging' | 'prod', DeploymentEnvironment>;
  let lifecycle: Lifecycle;
  let project: Project;
  let scratch: string;
  const a = () => nodes.get('a')!;
  const b = () => nodes.get('b')!;

  async function makeProject(name: string, steps: DeploymentStep[], resume = false): Promise<Project> {
    const group = (await new ProjectGroupRepository(clientA, space.Name).list({ take: 1 })).Items[0]!;
    const p = await new ProjectRepository(clientA, space.Name).create({ Name: name, ProjectGroupId: group.Id, LifecycleId: lifecycle.Id, ...(resume ? { ResumeDeploymentsOnNodeFailure: true } : {}) });
    const processes = new DeploymentProcessRepository(clientA, space.Name);
    const process = await processes.get(p);
    process.Steps = steps;
    await processes.update(p, process);
    return p;
  }

  async function deploy(client: Client, projectName: string, version: string, environment: string): Promise<{ DeploymentId: string; ServerTaskId: string }> {
    const r = await new DeploymentRepository(client, space.Name).create({ spaceName: space.Name, ProjectName: projectName, ReleaseVersion: version, EnvironmentNames: [environment] });
    assert.equal(r.DeploymentServerTasks.length, 1);
    return r.DeploymentServerTasks[0]!;
  }

  before(async () => {
    cluster = await readyCluster(['a', 'b']);
    const [na, nb] = await Promise.all([startNode(cluster.homes[0]!, 'a'), startNode(cluster.homes[1]!, 'b')]);
    nodes.set('a', na).set('b', nb);
    clientA = await Client.create({ instanceURL: na.url, apiKey: ADMIN_API_KEY, userAgentApp: 'cuttle-tests' });
    clientB = await Client.create({ instanceURL: nb.url, apiKey: ADMIN_API_KEY, userAgentApp: 'cuttle-tests' });
    const adminId = (await api(na.url, '/api/users/me', { apiKey: ADMIN_API_KEY })).body.Id as string;
    space = await new SpaceRepository(clientA).create({ Name: 'Deployments', SpaceManagersTeams: [], SpaceManagersTeamMembers: [adminId], IsDefault: false });
    const environments = new EnvironmentRepository(clientA, space.Name);
    envs = { dev: await environments.create({ Name: 'Dev' }), staging: await environments.create({ Name: 'Staging' }), prod: await environments.create({ Name: 'Prod' }) };
    lifecycle = await new LifecycleRepository(clientA, space.Name).create({
      Name: 'Dev to Prod', ReleaseRetentionPolicy: KEEP, TentacleRetentionPolicy: KEEP,
      Phases: [
        { Id: '', Name: 'Development', AutomaticDeploymentTargets: [], OptionalDeploymentTargets: [envs.dev.Id], MinimumEnvironmentsBeforePromotion: 0, IsOptionalPhase: false },
        { Id: '', Name: 'Testing', AutomaticDeploymentTargets: [], OptionalDeploymentTargets: [envs.staging.Id], MinimumEnvironmentsBeforePromotion: 0, IsOptionalPhase: false },
        { Id: '', Name: 'Production', AutomaticDeploymentTargets: [], OptionalDeploymentTargets: [envs.prod.Id], MinimumEnvironmentsBeforePromotion: 0, IsOptionalPhase: false },
      ],
    } as never);
    // Scripts run as the nodes' user here; they leave marks in a folder of their own.
    scratch = tempDir('cuttle-deploy-');
    chmodSync(scratch, 0o777);
  });
  after(async () => { await Promise.all([...nodes.values()].map((n) => n.kill('SIGTERM'))); });

  it('deploys a release made from only {spaceName, ProjectName}: scoped, sensitive and output variables, the log tree read through the other node', async () => {
    project = await makeProject('Web', [
      scriptStep('Step one', [
        'echo "greeting is #{Greeting} in #{Octopus.Environment.Name} for #{Octopus.Project.Name} #{Octopus.Release.Number}"',
        'echo "password is #{Password}"',
        'echo "the key is:"; echo "#{MultiKey}"',
        'echo "unknown stays #{NoSuchVariable}"',
        'set_octopusvariable Answer 42',
        'set_octopusvariable Copied "#{Password}"',
        'set_octopusvariable Generated "made-up-secret-$((6 * 7))-value" -sensitive',
      ].join('\n')),
      scriptStep('Step two', [
        'echo "answer from step one: #{Octopus.Action[Step one].Output.Answer}"',
        'echo "copied: #{Octopus.Action[Step one].Output.Copied}"',
        'echo "generated: #{Octopus.Action[Step one].Output.Generated}"',
        'echo "from the environment: $(get_octopusvariable Greeting) on $(printenv Octopus.Server.Node)"',
      ].join('\n')),
    ]);
    const variablesPath = `/api/${space.Id}/variables/${project.VariableSetId}`;
    const current = (await api(a().url, variablesPath, { apiKey: ADMIN_API_KEY })).body;
    const put = await api(a().url, variablesPath, {
      method: 'PUT', apiKey: ADMIN_API_KEY,
      body: {
        ...current,
        Variables: [
          { Name: 'Greeting', Value: 'hello everyone' },
          { Name: 'Greeting', Value: 'hello developers', Scope: { Environment: [envs.dev.Id] } },
          { Name: 'Password', Value: PASSWORD, IsSensitive: true },
          { Name: 'MultiKey', Value: MULTI, Type: 'Sensitive' },
        ],
      },
    });
    assert.equal(put.status, 200, JSON.stringify(put.body));

    const release = await new ReleaseRepository(clientA, space.Name).create({ spaceName: space.Name, ProjectName: 'Web' });
    assert.equal(release.ReleaseVersion, '0.0.1');
    assert.match(release.ReleaseId, /^Releases-\d+$/);
    const second = await new ReleaseRepository(clientB, space.Name).create({ spaceName: space.Name, ProjectName: 'web' });
    assert.equal(second.ReleaseVersion, '0.0.2', 'the next patch, whichever node');
    await assert.rejects(new ReleaseRepository(clientB, space.Name).create({ spaceName: space.Name, ProjectName: 'Web', ReleaseVersion: '0.0.1' }), refusedWith(409, /already has a release 0\.0\.1/));
    await assert.rejects(new ReleaseRepository(clientB, space.Name).create({ spaceName: space.Name, ProjectName: 'Nope' }), refusedWith(404, /no project named "Nope"/));

    const queued = await deploy(clientA, 'Web', '0.0.1', 'Dev');
    const listed = await new DeploymentRepository(clientB, space.Name).list({ ids: [queued.DeploymentId] });
    assert.equal(listed.Items.length, 1);
    assert.equal(listed.Items[0]!.TaskId, queued.ServerTaskId);
    const task = await new ServerTaskWaiter(clientA, space.Name).waitForServerTaskToComplete(queued.ServerTaskId, 200, 60_000);
    assert.equal(task.State, 'Success', JSON.stringify(task));

    const tasksB = new SpaceServerTaskRepository(clientB, space.Name);
    const raw = await tasksB.getRaw(queued.ServerTaskId);
    assert.match(raw, /greeting is hello developers in Dev for Web 0\.0\.1/, 'the Dev-scoped value wins in Dev');
    assert.match(raw, /password is \*\*\*\*\*\*\*\*/);
    assert.match(raw, /unknown stays #\{NoSuchVariable\}/);
    assert.match(raw, /answer from step one: 42/);
    assert.match(raw, /copied: \*\*\*\*\*\*\*\*/, 'a sensitive value passed through set_octopusvariable stays masked');
    assert.match(raw, /generated: \*\*\*\*\*\*\*\*/, 'an output variable set -sensitive is masked');
    assert.match(raw, /from the environment: hello developers on [ab]/);
    for (const secret of [PASSWORD, 'made-up-secret-42-value', ...MULTI.split('\n')]) assert.ok(!raw.includes(secret), `${secret} must be masked`);

    const details = await tasksB.getDetails(queued.ServerTaskId);
    const root = details.ActivityLogs[0]!;
    assert.deepEqual(root.Children.map((c) => [c.Name, c.Status]), [['Step 1: Step one', 'Success'], ['Step 2: Step two', 'Success']]);
    assert.ok(JSON.stringify(details).includes('answer from step one: 42'));
    assert.ok(!JSON.stringify(details).includes(PASSWORD));
    const deployment = await new DeploymentRepository(clientB, space.Name).get(queued.DeploymentId);
    assert.equal(deployment.EnvironmentId, envs.dev.Id);
    assert.equal(deployment.ReleaseId, release.ReleaseId);
  });

  it('follows the lifecycle: Prod is refused before Staging, allowed after', async () => {
    await assert.rejects(deploy(clientB, 'Web', '0.0.1', 'Prod'), refusedWith(400, /cannot be deployed to Prod yet.*phase "Testing".*Staging/s));
    await assert.rejects(deploy(clientB, 'Web', '0.0.2', 'Staging'), refusedWith(400, /phase "Development"/), '0.0.2 was never deployed to Dev');
    const staging = await deploy(clientB, 'Web', '0.0.1', 'Staging');
    const done = await new ServerTaskWaiter(clientB, space.Name).waitForServerTaskToComplete(staging.ServerTaskId, 200, 60_000);
    assert.equal(done.State, 'Success');
    const raw = await new SpaceServerTaskRepository(clientA, space.Name).getRaw(staging.ServerTaskId);
    assert.match(raw, /greeting is hello everyone in Staging/, 'outside Dev the unscoped value');
    const prod = await deploy(clientA, 'Web', '0.0.1', 'Prod');
    assert.equal((await new ServerTaskWaiter(clientA, space.Name).waitForServerTaskToComplete(prod.ServerTaskId, 200, 60_000)).State, 'Success');
    await assert.rejects(deploy(clientA, 'Web', '0.0.1', 'Nowhere'), refusedWith(404, /no environment named "Nowhere"/));
    await assert.rejects(deploy(clientA, 'Web', '9.9.9', 'Dev'), refusedWith(404, /no release 9\.9\.9/));
  });

  it('filters the task list by project and environment, as the portal Tasks page asks', async () => {
    const list = async (q: string) => (await api(b().url, `/api/tasks?${q}&take=100`, { apiKey: ADMIN_API_KEY })).body;
    const all = await list(`project=${project.Id}`);
    assert.ok(all.TotalResults >= 3, 'Dev, Staging and Prod deployments of Web');
    assert.ok(all.Items.every((t: { Name: string }) => t.Name === 'Deploy'));
    const deployments = (await api(a().url, `/api/${space.Id}/deployments?projects=${project.Id}&environments=${envs.prod.Id}`, { apiKey: ADMIN_API_KEY })).body.Items;
    const prod = await list(`project=${project.Id}&environment=${envs.prod.Id}`);
    assert.deepEqual(prod.Items.map((t: { Id: string }) => t.Id), deployments.map((d: { TaskId: string }) => d.TaskId));
    const staging = await list(`environment=${envs.staging.Id}&spaces=${space.Id}`);
    assert.ok(staging.Items.length >= 1 && staging.Items.every((t: { Description: string }) => / to Staging$/.test(t.Description)));
    const both = await list(`environment=${envs.staging.Id},${envs.prod.Id}&project=${project.Id}`);
    assert.equal(both.TotalResults, prod.TotalResults + staging.TotalResults);
    assert.equal((await list('project=Projects-99999')).TotalResults, 0);
    const bad = await api(b().url, '/api/tasks?project=Projects-1%25', { apiKey: ADMIN_API_KEY });
    assert.equal(bad.status, 400);
    assert.match(bad.body.ErrorMessage, /project has "Projects-1%", which is not a project id/);
  });

  it('serves the dashboard: the latest deployment of each project to each environment, in one space only', async () => {
    const d = (await api(a().url, `/api/${space.Id}/dashboard`, { apiKey: ADMIN_API_KEY })).body;
    assert.ok(d.Projects.some((p: { Id: string }) => p.Id === project.Id));
    assert.deepEqual(d.Environments.map((e: { Name: string }) => e.Name), ['Dev', 'Staging', 'Prod'], 'in environment order');
    const mine = d.Items.filter((i: { ProjectId: string }) => i.ProjectId === project.Id);
    assert.equal(mine.length, 3, 'one cell per environment deployed to');
    for (const env of [envs.dev, envs.staging, envs.prod]) {
      const newest = (await api(b().url, `/api/${space.Id}/deployments?projects=${project.Id}&environments=${env.Id}&take=1`, { apiKey: ADMIN_API_KEY })).body.Items[0];
      const cell = mine.find((i: { EnvironmentId: string }) => i.EnvironmentId === env.Id);
      assert.equal(cell.DeploymentId, newest.Id, `the newest deployment to ${env.Name}`);
      const release = (await api(b().url, `/api/${space.Id}/releases/${newest.ReleaseId}`, { apiKey: ADMIN_API_KEY })).body;
      assert.equal(cell.ReleaseVersion, release.Version);
      const task = (await api(b().url, `/api/tasks/${newest.TaskId}`, { apiKey: ADMIN_API_KEY })).body;
      assert.equal(cell.State, task.State);
      assert.equal(cell.TaskId, task.Id);
    }
    const other = (await api(b().url, '/api/dashboard', { apiKey: ADMIN_API_KEY })).body;
    assert.ok(!other.Items.some((i: { ProjectId: string }) => i.ProjectId === project.Id), 'the default space shows none of it');
    assert.equal((await api(b().url, '/api/Spaces-999/dashboard', { apiKey: ADMIN_API_KEY })).status, 404);
    assert.equal((await api(b().url, `/api/${space.Id}/dashboard`)).status, 401);
  });

  it('keeps the release as it was when the process changes, and serves its snapshot', async () => {
    const processes = new DeploymentProcessRepository(clientB, space.Name);
    const process = await processes.get(project);
    process.Steps[1]!.Actions[0]!.Properties['Octopus.Action.Script.ScriptBody'] = 'echo "a changed step two"';
    await processes.update(project, process);
    const release = (await new ReleaseRepository(clientA, space.Name).listForProject(project.Id)).Items.find((r) => r.Version === '0.0.1')!;
    const snapshot = await api(a().url, `/api/${space.Id}/deploymentprocesses/${release.ProjectDeploymentProcessSnapshotId}`, { apiKey: ADMIN_API_KEY });
    assert.equal(snapshot.status, 200);
    assert.match(JSON.stringify(snapshot.body.Steps), /answer from step one/);
    const again = await deploy(clientA, 'Web', '0.0.1', 'Dev');
    await new ServerTaskWaiter(clientA, space.Name).waitForServerTaskToComplete(again.ServerTaskId, 200, 60_000);
    const raw = await new SpaceServerTaskRepository(clientA, space.Name).getRaw(again.ServerTaskId);
    assert.match(raw, /answer from step one: 42/);
    assert.doesNotMatch(raw, /a changed step two/);
    const variables = await api(b().url, `/api/${space.Id}/variables/${release.ProjectVariableSetSnapshotId}`, { apiKey: ADMIN_API_KEY });
    assert.equal(variables.status, 200);
    assert.equal(variables.body.Variables.find((v: { Name: string }) => v.Name === 'Password').Value, null);
  });

  it('fails a step that needs deployment targets with one sentence, and runs Failure and Always steps after it', async () => {
    await makeProject('Targets', [
      scriptStep('Needs machines', 'echo never', { Properties: { 'Octopus.Action.TargetRoles': 'web-server' } }, 'false'),
      scriptStep('Skipped after failure', 'echo should-not-run'),
      scriptStep('On failure', 'echo "cleaning up after #{Octopus.Deployment.Error}"', { Condition: RunCondition.Failure }),
      scriptStep('Always', 'echo always-runs', { Condition: RunCondition.Always }),
    ]);
    await new ReleaseRepository(clientA, space.Name).create({ spaceName: space.Name, ProjectName: 'Targets', ReleaseVersion: '1.0.0' });
    const q = await deploy(clientA, 'Targets', '1.0.0', 'Dev');
    const t = await new ServerTaskWaiter(clientA, space.Name).waitForServerTaskToComplete(q.ServerTaskId, 200, 60_000);
    assert.equal(t.State, 'Failed');
    assert.match(t.ErrorMessage ?? '', /role web-server.*built-in worker/);
    const details = await new SpaceServerTaskRepository(clientB, space.Name).getDetails(q.ServerTaskId);
    assert.deepEqual(details.ActivityLogs[0]!.Children.map((c) => c.Status), ['Failed', 'Skipped', 'Success', 'Success']);
    const raw = await new SpaceServerTaskRepository(clientB, space.Name).getRaw(q.ServerTaskId);
    assert.doesNotMatch(raw, /should-not-run/);
    assert.match(raw, /always-runs/);
    await assert.rejects(new ReleaseRepository(clientA, space.Name).create({ spaceName: space.Name, ProjectName: (await makeProject('Empty', [])).Name }), refusedWith(400, /no steps/));
  });

  it('cancels a deployment: the running step\'s whole process tree stops', async () => {
    const pidFile = join(scratch, 'cancel-pid');
    await makeProject('Long', [scriptStep('Sleep', `sleep 300 & ${recordPid(pidFile)}; wait`)]);
    await new ReleaseRepository(clientA, space.Name).create({ spaceName: space.Name, ProjectName: 'Long', ReleaseVersion: '1.0.0' });
    const q = await deploy(clientA, 'Long', '1.0.0', 'Dev');
    const record = await waitFor('the sleep to start', () => existsSync(pidFile) && readFileSync(pidFile, 'utf8'), 30_000);
    assert.ok(recordedRunning(record));
    await new ServerTaskRepository(clientB).cancel(q.ServerTaskId);
    const t = await new ServerTaskWaiter(clientB, space.Name).waitForServerTaskToComplete(q.ServerTaskId, 200, 30_000);
    assert.equal(t.State, 'Canceled');
    assert.equal(t.IsCompleted, true);
    await waitFor('the sleep to be killed', () => !recordedRunning(record), 10_000);
  });

  for (const resume of [false, true]) {
    it(`${resume ? 'resumes' : 'fails'} a deployment whose node is killed with SIGKILL during its second step (ResumeDeploymentsOnNodeFailure ${resume ? 'on' : 'off'})`, async () => {
      const marks = join(scratch, `resume-${resume}`);
      mkdirSync(marks, { mode: 0o777 });
      chmodSync(marks, 0o777);
      const name = resume ? 'Resumable' : 'NotResumable';
      await makeProject(name, [
        scriptStep('First', `echo ran >> ${marks}/first; set_octopusvariable Token "token-$$"`),
        scriptStep('Second', `echo "token #{Octopus.Action[First].Output.Token}" > ${marks}/token-seen-$$; if [ ! -e ${marks}/slept ]; then touch ${marks}/slept; echo started > ${marks}/second-started; sleep 120; fi; echo second-done`),
      ], resume);
      await new ReleaseRepository(clientA, space.Name).create({ spaceName: space.Name, ProjectName: name, ReleaseVersion: '1.0.0' });
      const q = await deploy(clientA, name, '1.0.0', 'Dev');
      await waitFor('the second step to start', () => existsSync(`${marks}/second-started`), 30_000);
      const running = (await api(b().url, `/api/${space.Id}/tasks/${q.ServerTaskId}`, { apiKey: ADMIN_API_KEY })).body;
      const victim = nodes.get(running.ServerNode as string)!;
      const survivor = victim.name === 'a' ? b() : a();
      await victim.kill('SIGKILL');
      const survivorClient = survivor.name === 'a' ? clientA : clientB;
      const t = await new ServerTaskWaiter(survivorClient, space.Name).waitForServerTaskToComplete(q.ServerTaskId, 200, 60_000);
      const raw = await new SpaceServerTaskRepository(survivorClient, space.Name).getRaw(q.ServerTaskId);
      if (resume) {
        assert.equal(t.State, 'Success', raw);
        assert.equal(t.ServerNode, survivor.name);
        assert.equal(readFileSync(`${marks}/first`, 'utf8'), 'ran\n', 'step one ran once');
        assert.match(raw, new RegExp(`Resuming deployment .* on node ${survivor.name}.*node ${victim.name} stopped responding`));
        assert.match(raw, new RegExp(`"Second" was interrupted on node ${victim.name}`));
        assert.match(raw, /Not run again: "First" finished \(Success\) on node/);
        assert.match(raw, /second-done/);
        const seen = readFileSync(readdirSync(marks).filter((f) => f.startsWith('token-seen-')).map((f) => join(marks, f)).pop()!, 'utf8');
        assert.match(seen, /^token token-\d+$/m, 'the output of step one was restored for the re-run step');
      } else {
        assert.equal(t.State, 'Failed');
        assert.match(t.ErrorMessage ?? '', new RegExp(`node ${victim.name}, which stopped responding \\(last seen `));
        assert.doesNotMatch(raw, /second-done/);
        const failed = await api(survivor.url, `/api/${space.Id}/events?eventCategories=DeploymentFailed&regarding=${q.DeploymentId}`, { apiKey: ADMIN_API_KEY });
        assert.equal(failed.body.Items.length, 1, 'recovery records the failed deployment\'s event');
        assert.match(failed.body.Items[0].Message, new RegExp(`node ${victim.name}, which stopped responding`));
      }
      // The node comes back for what follows.
      nodes.set(victim.name, await startNode(victim.home, victim.name));
      if (victim.name === 'a') clientA = await Client.create({ instanceURL: a().url, apiKey: ADMIN_API_KEY, userAgentApp: 'cuttle-tests' });
      else clientB = await Client.create({ instanceURL: b().url, apiKey: ADMIN_API_KEY, userAgentApp: 'cuttle-tests' });
    });
  }

  it('records events for the changes and the deployments, and shows a second space none of this one', async () => {
    const events = await api(b().url, `/api/${space.Id}/events?eventCategories=DeploymentQueued,DeploymentSucceeded,DeploymentFailed,DeploymentResumed&take=100`, { apiKey: ADMIN_API_KEY });
    assert.equal(events.status, 200, JSON.stringify(events.body));
    const categories = new Set((events.body.Items as { Category: string }[]).map((e) => e.Category));
    for (const c of ['DeploymentQueued', 'DeploymentSucceeded', 'DeploymentFailed', 'DeploymentResumed']) assert.ok(categories.has(c), `an event ${c}`);
    const created = await api(a().url, `/api/${space.Id}/events?eventCategories=Created&regarding=${project.Id}`, { apiKey: ADMIN_API_KEY });
    assert.ok((created.body.Items as { Message: string }[]).some((e) => /Release 0\.0\.1/.test(e.Message)));

    const feeds = (await api(b().url, `/api/${space.Id}/feeds?take=1`, { apiKey: ADMIN_API_KEY })).body;
    assert.equal(feeds.Items[0].Id, 'feeds-builtin', 'a new space has the built-in feed');
    assert.equal(feeds.Items[0].FeedType, 'BuiltIn');
    assertRefused(await api(a().url, `/api/Spaces-1/projects/${project.Id}`, { apiKey: ADMIN_API_KEY }), 404, /no project/);
    const release = (await new ReleaseRepository(clientA, space.Name).list({ take: 1 })).Items[0]!;
    assertRefused(await api(a().url, `/api/Spaces-1/releases/${release.Id}`, { apiKey: ADMIN_API_KEY }), 404, /no release/);
    assert.equal((await new DeploymentRepository(clientA, 'Default').list({ take: 100 })).TotalResults, 0);

    // No sensitive value, nor an output variable set -sensitive, is plaintext in any table.
    const tables = (await adminQuery<{ table_name: string }>(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`, [], cluster.databaseUrl)).rows;
    let seen = 0;
    for (const { table_name: t } of tables) {
      const text = (await adminQuery<{ row: string }>(`SELECT x::text AS row FROM "${t}" x`, [], cluster.databaseUrl)).rows.map((r) => r.row).join('\n');
      seen += text.length;
      for (const secret of [PASSWORD, 'made-up-secret-42-value', ...MULTI.split('\n')]) assert.ok(!text.includes(secret), `${secret} is plaintext in ${t}`);
    }
    assert.ok(seen > 10_000, 'the tables were read');
    // Nor in any file of the shared storage (task logs are masked as they are written).
    const files = (readdirSync(cluster.shared, { recursive: true, withFileTypes: true })).filter((f) => f.isFile());
    assert.ok(files.some((f) => f.parentPath.includes('TaskLogs')), 'the task logs were read');
    for (const f of files) {
      // The nodes' storage checks write and remove probe files while this walks the share.
      if (f.name.startsWith('.cuttle-probe-')) continue;
      const text = readFileSync(join(f.parentPath, f.name), 'utf8');
      for (const secret of [PASSWORD, 'made-up-secret-42-value', ...MULTI.split('\n')]) assert.ok(!text.includes(secret), `${secret} is plaintext in ${join(f.parentPath, f.name)}`);
    }
    await assert.rejects(new ReleaseRepository(clientA, 'Default').create({ spaceName: 'Default', ProjectName: 'Web' }), refusedWith(404, /no project named "Web"/));
  });
});
