import assert from 'node:assert/strict';
import { describe, it, before, after } from 'node:test';
import { existsSync, readdirSync, writeFileSync, chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ADMIN_API_KEY, adminQuery, api, queueTask, readyCluster, startNode, untilTask, waitFor, type NodeProcess, type TestCluster } from './helpers.js';

const K = { apiKey: ADMIN_API_KEY };
const finished = (node: NodeProcess, id: string, timeoutMs = 30_000) => untilTask(node, id, (t) => t.IsCompleted, 'to finish', timeoutMs);

describe('the task engine: handlers, per-script options, fenced writes', () => {
  let cluster: TestCluster;
  let node: NodeProcess;
  let fakeBin: string;
  before(async () => {
    cluster = await readyCluster(['engine']);
    // A stand-in `pwsh` on this node's PATH only: it proves the runner looks PowerShell up on the
    // PATH and hands it the script file; what PowerShell itself does is not under test here.
    fakeBin = join(cluster.root, 'fake-bin');
    mkdirSync(fakeBin);
    writeFileSync(join(fakeBin, 'pwsh'), '#!/bin/bash\nfor f; do :; done\necho "pwsh ran $(basename "$f") with $(grep -c Write-Highlight "$f") helper line(s)"\ngrep -v "^#" "$f" | tail -n 1\n');
    chmodSync(join(fakeBin, 'pwsh'), 0o755);
    node = await startNode(cluster.homes[0]!, 'engine');
  });
  after(async () => { await node.kill('SIGTERM'); });

  it('lists the task types its handlers declare, and refuses an unknown one naming those there are', async () => {
    const types = await api(node.url, '/api/tasks/tasktypes', K);
    assert.equal(types.status, 200);
    assert.deepEqual(types.body.map((t: any) => t.Name).sort(), ['AdHocScript', 'Deploy', 'Noop']);
    assert.ok(types.body.every((t: any) => typeof t.Description === 'string' && t.Description.length > 0));
    const bad = await api(node.url, '/api/tasks', { ...K, body: { Name: 'Health' } });
    assert.equal(bad.status, 400);
    assert.match(bad.body.ErrorMessage, /"Health" cannot be queued here; use one of .*AdHocScript/);
    // A deployment is queued with its deployment row, never through the generic route.
    const deploy = await api(node.url, '/api/tasks', { ...K, body: { Name: 'Deploy', Arguments: { DeploymentId: 'Deployments-1' } } });
    assert.equal(deploy.status, 400);
    assert.match(deploy.body.ErrorMessage, /not queued through this route; use POST \/api\/\{spaceId\}\/deployments\/create\/untenanted\/v1/);
  });

  it('validates arguments against the handler schema and names every problem at once', async () => {
    const r = await api(node.url, '/api/tasks', { ...K, body: { Name: 'AdHocScript', Arguments: { ScriptBody: 7, Syntax: 'Cmd', TimeoutSeconds: 0 } } });
    assert.equal(r.status, 400);
    const errors = (r.body.Errors as string[]).join(' | ');
    assert.match(errors, /Arguments\.ScriptBody/);
    assert.match(errors, /Arguments\.Syntax must be one of Bash, PowerShell/);
    const t = await api(node.url, '/api/tasks', { ...K, body: { Name: 'Noop', Arguments: { TimeoutSeconds: 0 } } });
    assert.equal(t.status, 400);
    assert.match(t.body.Errors.join(' '), /TimeoutSeconds must be a whole number of seconds from 1 to 604800/);
  });

  it('fails a PowerShell script with one sentence when pwsh is not on the node\'s PATH', async () => {
    const t = await queueTask(node, { Name: 'AdHocScript', Arguments: { ScriptBody: 'Write-Host hi', Syntax: 'PowerShell' } });
    const done = await finished(node, t.Id);
    assert.equal(done.State, 'Failed');
    assert.match(done.ErrorMessage, /PowerShell scripts need pwsh \(PowerShell 7\) on the PATH of node engine, and it is not there; install PowerShell on that node or write the script in Bash\./);
  });

  it('runs a PowerShell script with pwsh from the PATH, with the PowerShell helpers', async () => {
    // The same node, restarted with the stand-in on its PATH.
    await node.kill('SIGTERM');
    node = await startNode(cluster.homes[0]!, 'engine', { PATH: `${fakeBin}:${process.env.PATH ?? ''}` });
    const t = await queueTask(node, { Name: 'AdHocScript', Arguments: { ScriptBody: 'Write-Output "last line"', Syntax: 'PowerShell' } });
    const done = await finished(node, t.Id);
    assert.equal(done.State, 'Success', done.ErrorMessage);
    const raw = (await api(node.url, `/api/tasks/${t.Id}/raw`, K)).body as string;
    assert.match(raw, /pwsh ran script\.ps1 with 1 helper line\(s\)/);
    assert.match(raw, /Write-Output "last line"/);
  });

  it('refuses an artifact from outside the script\'s work folder, and records none', async () => {
    const t = await queueTask(node, { Name: 'AdHocScript', Arguments: { ScriptBody: `new_octopusartifact ${join(cluster.homes[0]!, 'master.key')} key.txt` } });
    const done = await finished(node, t.Id);
    assert.equal(done.State, 'Failed');
    assert.match(done.ErrorMessage, /not a file in the script's work folder/);
    assert.equal((await adminQuery('SELECT count(*)::int AS n FROM artifacts WHERE task_id = $1', [t.Id], cluster.databaseUrl)).rows[0]?.n, 0);
    assert.equal(existsSync(join(cluster.shared, 'Artifacts', t.Id)) ? readdirSync(join(cluster.shared, 'Artifacts', t.Id)).length : 0, 0);
  });

  it('refuses a fenced-out write: once the claim token changed, the artifact is not recorded and the script is stopped', async () => {
    const go = join(cluster.root, 'fence-go');
    const after = join(cluster.root, 'fence-after');
    const t = await queueTask(node, { Name: 'AdHocScript', Arguments: { ScriptBody: `while [ ! -f ${go} ]; do sleep 0.05; done; echo data > a.txt; new_octopusartifact a.txt; sleep 2; touch ${after}` } });
    await untilTask(node, t.Id, (x) => x.State === 'Executing', 'to run', 15_000);
    // What recovery on another node does when it takes a task over: a new owner, a new token.
    await adminQuery(`UPDATE server_tasks SET claim_token = gen_random_uuid() WHERE id = $1`, [t.Id], cluster.databaseUrl);
    writeFileSync(go, '');
    await waitFor('the refusal in the task log', async () => {
      const raw = (await api(node.url, `/api/tasks/${t.Id}/raw`, K)).body as string;
      return /no longer owned by this node/.test(raw) ? raw : undefined;
    }, 15_000);
    await new Promise((r) => setTimeout(r, 3_000));
    assert.equal(existsSync(after), false, 'the script ran on after its task was fenced out');
    assert.equal((await adminQuery('SELECT count(*)::int AS n FROM artifacts WHERE task_id = $1', [t.Id], cluster.databaseUrl)).rows[0]?.n, 0);
    const files = existsSync(join(cluster.shared, 'Artifacts', t.Id)) ? readdirSync(join(cluster.shared, 'Artifacts', t.Id)) : [];
    assert.deepEqual(files, [], 'the copied file of a refused artifact is removed');
    // The fenced-out node records nothing: the row is left to its (here simulated) new owner.
    assert.equal((await api(node.url, `/api/tasks/${t.Id}`, K)).body.State, 'Executing');
  });
});
