// The built-in feed through the official client (@octopusdeploy/api-client) on two real nodes: push
// through one node, list and download through the other; overwrite modes; build information;
// releases that pick package versions; a package step whose Deploy.sh reads a substituted config
// file and a sensitive variable; hostile pushes refused with nothing written; an upload cut off by
// SIGKILL swept away; retention.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  BuildInformationRepository, Client, DeploymentProcessRepository, DeploymentRepository, Logger, NuGetPackageBuilder, OverwriteMode, PackageRepository,
  ProjectGroupRepository, ProjectRepository, ReleaseRepository, ServerTaskWaiter, SpaceRepository, SpaceServerTaskRepository, ZipPackageBuilder,
  LifecycleRepository, EnvironmentRepository, type DeploymentStep, type Space,
} from '@octopusdeploy/api-client';
import * as tar from 'tar';
import { ADMIN_API_KEY, adminQuery, api, makeReadOnly, readyCluster, refusedWith, startNode, tempDir, waitFor, type NodeProcess, type TestCluster } from './helpers.js';

const PASSWORD = 'feed-secret-password-value';
const quiet: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const sha1 = (b: Buffer) => createHash('sha1').update(b).digest('hex');

/** A multipart body with one file part, as the client sends it; `name` is sent as given (paths too). */
function multipart(name: string, data: Buffer): { body: Buffer; type: string } {
  const boundary = `----cuttle${Date.now()}`;
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="fileToUpload"; filename="${name}"\r\nContent-Type: application/octet-stream\r\n\r\n`);
  return { body: Buffer.concat([head, data, Buffer.from(`\r\n--${boundary}--\r\n`)]), type: `multipart/form-data; boundary=${boundary}` };
}

async function pushRaw(url: string, space: string, name: string, data: Buffer, mode = 'FailIfExists'): Promise<{ status: number; body: any }> {
  const m = multipart(name, data);
  const r = await fetch(`${url}/api/${space}/packages/raw?overwriteMode=${mode}`, { method: 'POST', headers: { 'X-Octopus-ApiKey': ADMIN_API_KEY, 'content-type': m.type }, body: new Uint8Array(m.body) });
  const text = await r.text();
  let body: unknown = text;
  try { body = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, body };
}

describe('the built-in feed through the official client on two nodes', () => {
  let cluster: TestCluster;
  let a: NodeProcess;
  let b: NodeProcess;
  let clientA: Client;
  let clientB: Client;
  let space: Space;
  let work: string;
  const files: Record<string, string> = {};

  const incoming = () => readdirSync(join(cluster.shared, 'Packages', '.incoming')).filter((f) => f.endsWith('.part'));
  const count = async () => (await api(a.url, `/api/${space.Id}/packages?take=0`, { apiKey: ADMIN_API_KEY })).body.TotalResults as number;

  before(async () => {
    cluster = await readyCluster(['a', 'b']);
    const env = { CUTTLE_RETENTION_JOB_SECONDS: '1' };
    [a, b] = await Promise.all([startNode(cluster.homes[0]!, 'a', env), startNode(cluster.homes[1]!, 'b', env)]);
    clientA = await Client.create({ instanceURL: a.url, apiKey: ADMIN_API_KEY, userAgentApp: 'cuttle-tests' });
    clientB = await Client.create({ instanceURL: b.url, apiKey: ADMIN_API_KEY, userAgentApp: 'cuttle-tests' });
    const adminId = (await api(a.url, '/api/users/me', { apiKey: ADMIN_API_KEY })).body.Id as string;
    space = await new SpaceRepository(clientA).create({ Name: 'Feed', SpaceManagersTeams: [], SpaceManagersTeamMembers: [adminId], IsDefault: false });
    work = tempDir('cuttle-packages-');
    // What a build would pack: a config file with variables, and the package's own scripts.
    const src = join(work, 'src');
    mkdirSync(join(src, 'config'), { recursive: true });
    writeFileSync(join(src, 'config', 'app.json'), '{"greeting": "#{Greeting}", "password": "#{Password}", "env": "#{Octopus.Environment.Name}"}\n');
    writeFileSync(join(src, 'PreDeploy.sh'), 'echo "pre-deploy in $(basename "$(pwd)")"\n');
    writeFileSync(join(src, 'Deploy.sh'), 'echo "deploying $(get_octopusvariable Octopus.Action.Package.PackageVersion)"\ncat config/app.json\nset_octopusvariable Deployed yes\n');
    const out = join(work, 'out');
    mkdirSync(out);
    for (const version of ['1.0.0', '1.0.1', '1.1.0-beta.1']) {
      files[`Hello.${version}`] = await new ZipPackageBuilder().pack({ packageId: 'Hello', version, basePath: src, inputFilePatterns: ['**/*'], outputFolder: out, logger: quiet });
    }
    files['GoodBye.2.0.0'] = await new NuGetPackageBuilder().pack({ packageId: 'GoodBye', version: '2.0.0', basePath: src, inputFilePatterns: ['config/*'], outputFolder: out, logger: quiet, nuspecArgs: { description: 'bye', authors: ['cuttle'] } });
  });
  after(async () => { await Promise.all([a.kill('SIGTERM'), b.kill('SIGTERM')]); });

  it('pushes through one node and serves through the other: list, filter, latest, get, download (whole and ranges), overwrite modes', async () => {
    const paths = Object.values(files).map((f) => join(work, 'out', f.replace(/^.*\//, '')));
    await new PackageRepository(clientA, space.Name).push(paths);
    const hello = await new PackageRepository(clientB, space.Name).list({ filter: 'Hello' });
    assert.deepEqual(hello.Items.map((p) => p.Version).sort(), ['1.0.0', '1.0.1', '1.1.0-beta.1']);
    assert.ok(hello.Items.every((p) => p.PackageId === 'Hello'), 'GoodBye does not match the filter Hello');
    const one = await new PackageRepository(clientB, space.Name).get(hello.Items.find((p) => p.Version === '1.0.0')!.Id);
    assert.equal(one.PackageId, 'Hello');
    assert.equal(one.Version, '1.0.0');
    assert.equal(one.FileExtension, '.zip');
    const latest = (await api(b.url, `/api/${space.Id}/packages?latest=true`, { apiKey: ADMIN_API_KEY })).body;
    assert.deepEqual(latest.Items.map((p: { PackageId: string; Version: string }) => `${p.PackageId} ${p.Version}`).sort(), ['GoodBye 2.0.0', 'Hello 1.1.0-beta.1']);

    const original = readFileSync(paths[0]!);
    const raw = await fetch(`${b.url}/api/${space.Id}/packages/${one.Id}/raw`, { headers: { 'X-Octopus-ApiKey': ADMIN_API_KEY } });
    assert.equal(raw.status, 200);
    assert.equal(raw.headers.get('content-length'), String(original.length));
    assert.equal(raw.headers.get('content-type'), 'application/zip');
    assert.equal(sha1(Buffer.from(await raw.arrayBuffer())), sha1(original), 'the bytes pushed through A come back through B');
    const part = await fetch(`${b.url}/api/${space.Id}/packages/${one.Id}/raw`, { headers: { 'X-Octopus-ApiKey': ADMIN_API_KEY, Range: 'bytes=10-29' } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), `bytes 10-29/${original.length}`);
    assert.deepEqual(Buffer.from(await part.arrayBuffer()), original.subarray(10, 30));
    const tail = await fetch(`${a.url}/api/${space.Id}/packages/${one.Id}/raw`, { headers: { 'X-Octopus-ApiKey': ADMIN_API_KEY, Range: 'bytes=-5' } });
    assert.deepEqual(Buffer.from(await tail.arrayBuffer()), original.subarray(original.length - 5));
    assert.equal((await fetch(`${a.url}/api/${space.Id}/packages/${one.Id}/raw`, { headers: { 'X-Octopus-ApiKey': ADMIN_API_KEY, Range: `bytes=${original.length + 10}-` } })).status, 416);

    await assert.rejects(new PackageRepository(clientB, space.Name).push([paths[0]!]), /A package with the same name and version already exists/);
    await new PackageRepository(clientB, space.Name).push([paths[0]!], OverwriteMode.IgnoreIfExists);
    await new PackageRepository(clientB, space.Name).push([paths[0]!], OverwriteMode.OverwriteExisting);
    assert.equal(await count(), 4);
    // The older `replace=true` replaces too.
    assert.equal((await pushRaw(a.url, space.Id, 'Hello.1.0.0.zip', original, 'x')).status, 400);
    const m = multipart('Hello.1.0.0.zip', original);
    const replaced = await fetch(`${a.url}/api/${space.Id}/packages/raw?replace=true`, { method: 'POST', headers: { 'X-Octopus-ApiKey': ADMIN_API_KEY, 'content-type': m.type }, body: new Uint8Array(m.body) });
    assert.equal(replaced.status, 201);
    // Two nodes receiving the same new package at once end with one.
    copyFileSync(paths[0]!, join(work, 'Twice.1.0.0.zip'));
    const twice = readFileSync(join(work, 'Twice.1.0.0.zip'));
    const both = await Promise.all([pushRaw(a.url, space.Id, 'Twice.1.0.0.zip', twice), pushRaw(b.url, space.Id, 'Twice.1.0.0.zip', twice)]);
    assert.deepEqual(both.map((r) => r.status).sort(), [201, 409]);
    assert.equal((await api(a.url, `/api/${space.Id}/packages?filter=Twice`, { apiKey: ADMIN_API_KEY })).body.TotalResults, 1);
    assert.deepEqual(incoming(), []);
  });

  it('stores build information and shows it on the package and in the releases that use it', async () => {
    const cmd = {
      spaceName: space.Name, BuildEnvironment: 'BitBucket', Branch: 'main', BuildNumber: '288', BuildUrl: 'https://ci.example/288',
      VcsType: 'Git', VcsRoot: 'https://git.example/hello', VcsCommitNumber: '314cf2c', Packages: [{ Id: 'Hello', Version: '1.0.0' }],
      Commits: [{ Id: '314cf2c', Comment: 'Make it greet' }],
    };
    await new BuildInformationRepository(clientA, space.Name).push(cmd);
    await assert.rejects(new BuildInformationRepository(clientB, space.Name).push(cmd), /Metadata for the specified Package ID and version already exists\./);
    await new BuildInformationRepository(clientB, space.Name).push({ ...cmd, BuildNumber: '289' }, OverwriteMode.OverwriteExisting);
    const id = (await new PackageRepository(clientB, space.Name).list({ filter: 'Hello' })).Items.find((p) => p.Version === '1.0.0')!.Id;
    const pkg = (await api(b.url, `/api/${space.Id}/packages/${id}`, { apiKey: ADMIN_API_KEY })).body;
    assert.equal(pkg.PackageVersionBuildInformation.VcsCommitNumber, '314cf2c');
    assert.equal(pkg.PackageVersionBuildInformation.BuildNumber, '289');
    assert.equal(pkg.PackageVersionBuildInformation.Commits[0].Comment, 'Make it greet');
  });

  it('deploys a package step: versions picked by the release, config substituted, PreDeploy/Deploy run, a later step uses the folder', async () => {
    const feedId = (await api(a.url, `/api/${space.Id}/feeds?take=1`, { apiKey: ADMIN_API_KEY })).body.Items[0].Id as string;
    const env = await new EnvironmentRepository(clientA, space.Name).create({ Name: 'Dev' });
    const group = (await new ProjectGroupRepository(clientA, space.Name).list({ take: 1 })).Items[0]!;
    const lifecycle = (await new LifecycleRepository(clientA, space.Name).list({ take: 1 })).Items[0]!;
    const project = await new ProjectRepository(clientA, space.Name).create({ Name: 'Web', ProjectGroupId: group.Id, LifecycleId: lifecycle.Id });
    const steps = [
      {
        Id: '', Name: 'Deploy Hello', Condition: 'Success', StartTrigger: 'StartAfterPrevious', PackageRequirement: 'LetOctopusDecide', Properties: {},
        Actions: [{
          Id: '', Name: 'Deploy Hello', ActionType: 'Octopus.TentaclePackage', IsDisabled: false, Environments: [], ExcludedEnvironments: [], Channels: [], TenantTags: [],
          Packages: [{ Id: '', Name: '', PackageId: 'Hello', FeedId: feedId, AcquisitionLocation: 'Server', Properties: { SelectionMode: 'immediate' } }],
          Properties: { 'Octopus.Action.EnabledFeatures': 'Octopus.Features.SubstituteInFiles', 'Octopus.Action.SubstituteInFiles.Enabled': 'True', 'Octopus.Action.SubstituteInFiles.TargetFiles': 'config/*.json' },
        }],
      },
      {
        Id: '', Name: 'Check', Condition: 'Success', StartTrigger: 'StartAfterPrevious', PackageRequirement: 'LetOctopusDecide', Properties: {},
        Actions: [{
          Id: '', Name: 'Check', ActionType: 'Octopus.Script', IsDisabled: false, Environments: [], ExcludedEnvironments: [], Channels: [], TenantTags: [], Packages: [],
          Properties: { 'Octopus.Action.RunOnServer': 'true', 'Octopus.Action.Script.Syntax': 'Bash', 'Octopus.Action.Script.ScriptBody': 'echo "later step sees: $(cat "#{Octopus.Action[Deploy Hello].Output.Package.InstallationDirectoryPath}/config/app.json")"; echo "deployed: #{Octopus.Action[Deploy Hello].Output.Deployed}"' },
        }],
      },
    ] as unknown as DeploymentStep[];
    const processes = new DeploymentProcessRepository(clientA, space.Name);
    const process = await processes.get(project);
    process.Steps = steps;
    await processes.update(project, process);
    const variables = (await api(a.url, `/api/${space.Id}/variables/${project.VariableSetId}`, { apiKey: ADMIN_API_KEY })).body;
    assert.equal((await api(a.url, `/api/${space.Id}/variables/${project.VariableSetId}`, { method: 'PUT', apiKey: ADMIN_API_KEY, body: { ...variables, Variables: [{ Name: 'Greeting', Value: 'hello from the feed' }, { Name: 'Password', Value: PASSWORD, IsSensitive: true }] } })).status, 200);

    const releases = new ReleaseRepository(clientB, space.Name);
    const pinned = await releases.create({ spaceName: space.Name, ProjectName: 'Web', ReleaseVersion: '1.0.0', Packages: ['Hello:1.0.0'] });
    const pinnedRelease = await releases.get(pinned.ReleaseId);
    assert.deepEqual(pinnedRelease.SelectedPackages.map((p) => [p.ActionName, p.Version]), [['Deploy Hello', '1.0.0']]);
    assert.equal((pinnedRelease.BuildInformation[0] as unknown as { VcsCommitNumber: string }).VcsCommitNumber, '314cf2c', 'the build information of the chosen version');
    const latest = await releases.create({ spaceName: space.Name, ProjectName: 'Web', ReleaseVersion: '2.0.0' });
    assert.equal((await releases.get(latest.ReleaseId)).SelectedPackages[0]!.Version, '1.0.1', 'the latest release version in the feed (not the pre-release)');
    const forAll = await releases.create({ spaceName: space.Name, ProjectName: 'Web', ReleaseVersion: '3.0.0', PackageVersion: '1.1.0-beta.1' });
    assert.equal((await releases.get(forAll.ReleaseId)).SelectedPackages[0]!.Version, '1.1.0-beta.1');
    await assert.rejects(releases.create({ spaceName: space.Name, ProjectName: 'Web', ReleaseVersion: '4.0.0', Packages: ['Hello:9.9.9'] }), refusedWith(400, /Hello 9\.9\.9, which is not in the built-in feed/));
    await assert.rejects(releases.create({ spaceName: space.Name, ProjectName: 'Web', ReleaseVersion: '4.0.0', Packages: ['Nothing:1.0.0'] }), refusedWith(400, /matches no package step/));

    const r = await new DeploymentRepository(clientA, space.Name).create({ spaceName: space.Name, ProjectName: 'Web', ReleaseVersion: '1.0.0', EnvironmentNames: [env.Name] });
    const taskId = r.DeploymentServerTasks[0]!.ServerTaskId;
    const task = await new ServerTaskWaiter(clientB, space.Name).waitForServerTaskToComplete(taskId, 200, 60_000);
    const log = await new SpaceServerTaskRepository(clientB, space.Name).getRaw(taskId);
    assert.equal(task.State, 'Success', log);
    assert.match(log, /Extracting package Hello 1\.0\.0/);
    assert.match(log, /Substituted variables in config\/app\.json/);
    assert.match(log, /pre-deploy in /);
    assert.match(log, /deploying 1\.0\.0/);
    assert.match(log, /"greeting": "hello from the feed", "password": "\*\*\*\*\*\*\*\*", "env": "Dev"/);
    assert.match(log, /later step sees: \{"greeting": "hello from the feed"/);
    assert.match(log, /deployed: yes/);
    assert.ok(!log.includes(PASSWORD), 'the sensitive value is masked');
  });

  it('refuses hostile and broken pushes with a 4xx, writing nothing, and keeps serving', async () => {
    const before = await count();
    const good = readFileSync(join(work, 'out', files['Hello.1.0.0']!.replace(/^.*\//, '')));
    const cases: [string, Buffer, number, RegExp][] = [
      ['Hello.zip', good, 400, /has no version/],
      ['-bad.1.0.0.zip', good, 400, /invalid id|not a package id/],
      ['../Evil.1.0.0.zip', good, 400, /contains a path/],
      ['/etc/Evil.1.0.0.zip', good, 400, /contains a path/],
      ['..\\Evil.1.0.0.zip', good, 400, /contains a path/],
      ['Evil.1.0.0.exe', good, 400, /no package extension/],
      ['Broken.1.0.0.zip', Buffer.from('this is not a zip file at all, just text'), 400, /./],
      ['Cut.1.0.0.zip', good.subarray(0, Math.floor(good.length / 2)), 400, /./],
      ['Empty.1.0.0.zip', Buffer.alloc(0), 400, /empty/],
    ];
    // A tar whose entry is a link leaving the package.
    const linkSrc = join(work, 'link');
    mkdirSync(linkSrc);
    symlinkSync('/etc/passwd', join(linkSrc, 'passwd'));
    await tar.create({ gzip: true, file: join(work, 'Link.1.0.0.tar.gz'), cwd: linkSrc }, ['passwd']);
    cases.push(['Link.1.0.0.tar.gz', readFileSync(join(work, 'Link.1.0.0.tar.gz')), 400, /link/i]);
    // A tar and tar.gz are inspected as they arrive: a gzip cut in half, a compression bomb (80 MB of zeros in ~80 KB).
    const plain = join(work, 'plain');
    mkdirSync(plain);
    writeFileSync(join(plain, 'a.txt'), Buffer.alloc(300_000, 'a'));
    writeFileSync(join(plain, 'zeros'), Buffer.alloc(80 * 1024 * 1024));
    await tar.create({ gzip: true, file: join(work, 'Plain.tar.gz'), cwd: plain }, ['a.txt']);
    await tar.create({ gzip: true, file: join(work, 'Bomb.tar.gz'), cwd: plain }, ['zeros']);
    const plainTgz = readFileSync(join(work, 'Plain.tar.gz'));
    cases.push(['Cut.1.0.0.tar.gz', plainTgz.subarray(0, plainTgz.length >> 1), 400, /truncated|cut short|corrupt/]);
    cases.push(['Bomb.1.0.0.tgz', readFileSync(join(work, 'Bomb.tar.gz')), 400, /compression bomb/]);
    for (const [name, data, status, pattern] of cases) {
      const r = await pushRaw(b.url, space.Id, name, data);
      assert.equal(r.status, status, `${name}: ${JSON.stringify(r.body)}`);
      assert.match(r.body.ErrorMessage, pattern, name);
    }
    assert.equal((await pushRaw(b.url, 'Spaces-999', 'Hello.9.0.0.zip', good)).status, 404);
    assert.equal((await api(a.url, `/api/${space.Id}/packages/packages-Nope.1.0.0/raw`, { apiKey: ADMIN_API_KEY })).status, 404);
    const noFile = await fetch(`${a.url}/api/${space.Id}/packages/raw`, { method: 'POST', headers: { 'X-Octopus-ApiKey': ADMIN_API_KEY, 'content-type': 'application/json' }, body: '{}' });
    assert.equal(noFile.status, 400);

    // An upload cut off mid-stream: the client goes away after half the body.
    const m = multipart('Abandoned.1.0.0.zip', Buffer.alloc(4 * 1024 * 1024, 7));
    await new Promise<void>((resolve) => {
      const req = request(`${a.url}/api/${space.Id}/packages/raw`, { method: 'POST', headers: { 'X-Octopus-ApiKey': ADMIN_API_KEY, 'content-type': m.type, 'content-length': m.body.length } });
      req.on('error', () => resolve());
      req.write(m.body.subarray(0, m.body.length / 2), () => setTimeout(() => { req.destroy(); resolve(); }, 300));
    });
    await waitFor('the cut upload\'s temp file to go', () => incoming().length === 0, 10_000);
    assert.equal(await count(), before, 'nothing was written');

    // The shared folder turns read-only under a running node: a 503 naming the folder, nothing kept; then it works again.
    const undo = makeReadOnly(join(cluster.shared, 'Packages'));
    let ro: { status: number; body: any };
    try {
      ro = await pushRaw(b.url, space.Id, 'ReadOnly.1.0.0.zip', good);
    } finally {
      undo();
    }
    assert.equal(ro.status, 503, JSON.stringify(ro.body));
    assert.match(ro.body.ErrorMessage, /shared Packages folder .* (is read-only|cannot be written)/);
    assert.match(ro.body.ErrorMessage, /cuttle doctor/);
    assert.equal(await count(), before, 'nothing was written');
    assert.equal(incoming().length, 0);
    assert.equal((await pushRaw(b.url, space.Id, 'ReadOnly.1.0.0.zip', good)).status, 201);
    assert.equal((await api(b.url, `/api/${space.Id}/packages/packages-ReadOnly.1.0.0`, { method: 'DELETE', apiKey: ADMIN_API_KEY })).status, 200);
    assert.equal((await api(b.url, '/api/octopusservernodes/ping')).status, 200);
  });

  it('sweeps an upload whose node was killed mid-stream, deletes packages, and applies retention', async () => {
    const m = multipart('Killed.1.0.0.zip', Buffer.alloc(64 * 1024 * 1024, 1));
    const req = request(`${a.url}/api/${space.Id}/packages/raw`, { method: 'POST', headers: { 'X-Octopus-ApiKey': ADMIN_API_KEY, 'content-type': m.type, 'content-length': m.body.length } });
    req.on('error', () => undefined);
    req.write(m.body.subarray(0, 8 * 1024 * 1024));
    await waitFor('the upload to reach the shared folder', () => incoming().length > 0, 10_000);
    await a.kill('SIGKILL');
    req.destroy();
    assert.equal(incoming().length, 1, 'the killed node left its temp file');
    await adminQuery(`INSERT INTO settings (key, value) VALUES ('packages.temp_max_age_seconds', '1') ON CONFLICT (key) DO UPDATE SET value = excluded.value`, [], cluster.databaseUrl);
    await waitFor('the sweep (on the surviving node) to remove it', () => incoming().length === 0, 20_000, 200);
    assert.equal((await api(b.url, `/api/${space.Id}/packages?filter=Killed`, { apiKey: ADMIN_API_KEY })).body.TotalResults, 0);
    a = await startNode(cluster.homes[0]!, 'a', { CUTTLE_RETENTION_JOB_SECONDS: '1' });

    // Delete: row and file.
    const goodbye = (await api(b.url, `/api/${space.Id}/packages?filter=GoodBye`, { apiKey: ADMIN_API_KEY })).body.Items[0];
    const folder = join(cluster.shared, 'Packages', space.Id, 'goodbye');
    assert.equal(readdirSync(folder).length, 1);
    assert.equal((await api(a.url, `/api/${space.Id}/packages/${goodbye.Id}`, { method: 'DELETE', apiKey: ADMIN_API_KEY })).status, 200);
    assert.equal((await api(b.url, `/api/${space.Id}/packages/${goodbye.Id}`, { apiKey: ADMIN_API_KEY })).status, 404);
    assert.equal(readdirSync(folder).length, 0);

    // Retention: keep the newest version of each id, and every version a release uses (1.0.0, 1.0.1 and the beta).
    const twice = (await api(b.url, `/api/${space.Id}/packages?filter=Twice`, { apiKey: ADMIN_API_KEY })).body.Items[0];
    assert.equal((await pushRaw(b.url, space.Id, 'Twice.1.0.1.zip', readFileSync(join(work, 'Twice.1.0.0.zip')))).status, 201);
    await adminQuery(`INSERT INTO settings (key, value) VALUES ('packages.retention_keep', '1') ON CONFLICT (key) DO UPDATE SET value = excluded.value`, [], cluster.databaseUrl);
    await waitFor('retention to remove Twice 1.0.0', async () => (await api(b.url, `/api/${space.Id}/packages/${twice.Id}`, { apiKey: ADMIN_API_KEY })).status === 404, 20_000, 200);
    const left = (await api(b.url, `/api/${space.Id}/packages?take=100`, { apiKey: ADMIN_API_KEY })).body.Items.map((p: { PackageId: string; Version: string }) => `${p.PackageId} ${p.Version}`).sort();
    assert.deepEqual(left, ['Hello 1.0.0', 'Hello 1.0.1', 'Hello 1.1.0-beta.1', 'Twice 1.0.1']);
    const events = (await api(b.url, `/api/${space.Id}/events?regarding=feeds-builtin&take=100`, { apiKey: ADMIN_API_KEY })).body.Items.map((e: { Message: string }) => e.Message).join('\n');
    assert.match(events, /Pushed package Hello 1\.0\.0/);
    assert.match(events, /Deleted package GoodBye 2\.0\.0/);
    assert.match(events, /Removed package Twice 1\.0\.0 .* no release uses it/);
  });
});
