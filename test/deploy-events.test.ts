// Audit events on a cluster of two real `cuttle run` processes: every change writes one in its own
// transaction (who, what, when, through which node), `/api/events` lists them newest first with
// Octopus's filters, only administrators read them, and a sensitive value is never in one.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ADMIN_API_KEY, adminQuery, api, assertRefused, readyCluster, startNode, type NodeProcess, type TestCluster } from './helpers.js';

const K = { apiKey: ADMIN_API_KEY };

describe('audit events', () => {
  let cluster: TestCluster;
  let a: NodeProcess;
  let b: NodeProcess;
  let adminId: string;
  let space: any;
  let other: any;

  const events = async (path: string, node = a) => {
    const r = await api(node.url, path, K);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body;
  };

  before(async () => {
    cluster = await readyCluster(['a', 'b']);
    [a, b] = await Promise.all([startNode(cluster.homes[0]!, 'a'), startNode(cluster.homes[1]!, 'b')]);
    adminId = (await api(a.url, '/api/users/me', K)).body.Id;
    space = (await api(a.url, '/api/spaces', { ...K, body: { Name: 'Audited', SpaceManagersTeamMembers: [adminId] } })).body;
    other = (await api(a.url, '/api/spaces', { ...K, body: { Name: 'Elsewhere', SpaceManagersTeamMembers: [adminId] } })).body;
  });
  after(async () => { await Promise.all([a.kill('SIGTERM'), b.kill('SIGTERM')]); });

  it('records an environment\'s create, modify and delete, newest first, with who, the related ids, the changes and the node', async () => {
    const made = await api(b.url, `/api/${space.Id}/environments`, { ...K, body: { Name: 'Production', Description: 'live <site>' } });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const env = made.body;
    const renamed = await api(a.url, `/api/${space.Id}/environments/${env.Id}`, { ...K, method: 'PUT', body: { ...env, Name: 'Prod', UseGuidedFailure: true } });
    assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
    // A refused change writes no event: the event is in the change's transaction.
    assertRefused(await api(a.url, `/api/${space.Id}/environments`, { ...K, body: { Name: 'prod' } }), 409, /already exists/);
    assert.equal((await api(b.url, `/api/${space.Id}/environments/${env.Id}`, { ...K, method: 'DELETE' })).status, 200);

    const list = await events(`/api/${space.Id}/events?regarding=${env.Id}`);
    assert.equal(list.ItemType, 'Event');
    assert.equal(list.TotalResults, 3);
    assert.equal(list.ItemsPerPage, 30);
    assert.equal(list.NumberOfPages, 1);
    assert.equal(list.LastPageNumber, 0);
    assert.deepEqual(list.Items.map((e: any) => e.Category), ['Deleted', 'Modified', 'Created']);
    assert.deepEqual(list.Items.map((e: any) => e.MessageText), ['Deleted environment "Prod"', 'Modified environment "Prod" (renamed from "Production")', 'Created environment "Production"']);
    assert.deepEqual(list.Items.map((e: any) => e.Node), ['b', 'a', 'b'], 'the node each change went through');
    for (const e of list.Items) {
      assert.match(e.Id, /^Events-\d+$/);
      assert.equal(e.SpaceId, space.Id);
      assert.equal(e.UserId, adminId);
      assert.equal(e.Username, 'admin');
      assert.equal(e.IsService, false);
      assert.equal(e.UserAgent, '');
      assert.deepEqual(e.MessageReferences, []);
      assert.equal(e.Comments, null);
      assert.ok(e.RelatedDocumentIds.includes(env.Id) && e.RelatedDocumentIds.includes(space.Id), JSON.stringify(e.RelatedDocumentIds));
      assert.equal(e.Links.Self, `/api/events/${e.Id}`);
      assert.ok(!Number.isNaN(Date.parse(e.Occurred)));
    }
    const [deleted, modified, created] = list.Items;
    assert.ok(Date.parse(deleted.Occurred) >= Date.parse(created.Occurred));
    assert.equal(created.MessageHtml, 'Created environment &quot;Production&quot;');
    assert.deepEqual(created.ChangeDetails.DocumentContext, null);
    assert.ok(created.ChangeDetails.Differences.some((d: any) => d.op === 'add' && d.path === '/Description' && d.value === 'live <site>'));
    assert.deepEqual(
      modified.ChangeDetails.Differences.filter((d: any) => ['/Name', '/UseGuidedFailure'].includes(d.path)),
      [{ op: 'replace', path: '/Name', value: 'Prod' }, { op: 'replace', path: '/UseGuidedFailure', value: true }]);
    assert.ok(!modified.ChangeDetails.Differences.some((d: any) => d.path === '/Description'), 'only what changed');
    assert.ok(deleted.ChangeDetails.Differences.some((d: any) => d.op === 'remove' && d.path === '/Name'));

    // One event, on either node; not through another space.
    assert.deepEqual(await events(`/api/events/${modified.Id}`, b), modified);
    assert.deepEqual(await events(`/api/${space.Id}/events/${modified.Id}`), modified);
    assertRefused(await api(a.url, `/api/${other.Id}/events/${modified.Id}`, K), 404, new RegExp(`no event ${modified.Id} in space ${other.Id}`));
    assertRefused(await api(a.url, '/api/events/Events-999999', K), 404, /no event Events-999999/);

    // Paging.
    const second = await events(`/api/${space.Id}/events?regarding=${env.Id}&skip=1&take=1`);
    assert.deepEqual(second.Items.map((e: any) => e.Id), [modified.Id]);
    assert.equal(second.TotalResults, 3);
    assert.equal(second.NumberOfPages, 3);
    assert.equal(second.LastPageNumber, 2);
    assert.equal(second.Links['Page.Next'], `/api/${space.Id}/events?skip=2&take=1&regarding=${env.Id}`);
  });

  it('records a space\'s own changes as events of that space, kept after it is deleted', async () => {
    const s = (await api(a.url, '/api/spaces', { ...K, body: { Name: 'Short-lived', SpaceManagersTeamMembers: [adminId] } })).body;
    const stopped = await api(b.url, `/api/spaces/${s.Id}`, { ...K, method: 'PUT', body: { ...s, TaskQueueStopped: true } });
    assert.equal(stopped.status, 200);
    assert.equal((await api(a.url, `/api/spaces/${s.Id}`, { ...K, method: 'DELETE' })).status, 200);
    const list = await events(`/api/events?spaces=${s.Id}`);
    assert.deepEqual(list.Items.map((e: any) => [e.Category, e.MessageText]), [
      ['Deleted', 'Deleted space "Short-lived"'],
      ['Modified', 'Modified space "Short-lived"'],
      ['Created', 'Created project group "Default Project Group"'],
      ['Created', 'Created lifecycle "Default Lifecycle"'],
      ['Created', 'Created space "Short-lived"'],
    ]);
    assert.ok(list.Items.every((e: any) => e.SpaceId === s.Id));
    assert.deepEqual(list.Items[1].ChangeDetails.Differences, [{ op: 'replace', path: '/TaskQueueStopped', value: true }]);
    assertRefused(await api(a.url, `/api/${s.Id}/events`, K), 404, new RegExp(`no space ${s.Id}`));
  });

  it('filters by category, document, user, project, environment, space and time', async () => {
    const dev = (await api(a.url, `/api/${space.Id}/environments`, { ...K, body: { Name: 'Dev' } })).body;
    const away = (await api(b.url, `/api/${other.Id}/environments`, { ...K, body: { Name: 'Away' } })).body;

    const created = await events(`/api/${space.Id}/events?eventCategories=Created&take=2147483647`);
    assert.ok(created.Items.length >= 1 && created.Items.every((e: any) => e.Category === 'Created' && e.SpaceId === space.Id));
    assert.ok(created.Items.some((e: any) => e.RelatedDocumentIds.includes(dev.Id)));
    const both = await events(`/api/events?eventCategories=Created,Deleted&spaces=${space.Id}&take=2147483647`);
    assert.ok(both.Items.some((e: any) => e.Category === 'Deleted') && both.Items.every((e: any) => ['Created', 'Deleted'].includes(e.Category)));

    // Each space's list holds its own events only; the unscoped list holds every space's.
    const mine = await events(`/api/${space.Id}/events?take=2147483647`);
    assert.ok(mine.Items.every((e: any) => e.SpaceId === space.Id));
    assert.ok(!mine.Items.some((e: any) => e.RelatedDocumentIds.includes(away.Id)));
    const theirs = await events(`/api/${other.Id}/events?regarding=${away.Id}`, b);
    assert.deepEqual(theirs.Items.map((e: any) => e.MessageText), ['Created environment "Away"']);
    const all = await events(`/api/events?regarding=${dev.Id},${away.Id}`);
    assert.deepEqual(all.Items.map((e: any) => e.SpaceId).sort(), [space.Id, other.Id].sort());
    assert.equal((await events(`/api/events?spaces=${other.Id}&regarding=${dev.Id}`)).TotalResults, 0);
    assert.equal((await events(`/api/events?environments=${dev.Id}`)).Items[0].Id, (await events(`/api/events?regarding=${dev.Id}`)).Items[0].Id);

    assert.equal((await events(`/api/events?users=${adminId}&regarding=${dev.Id}`)).TotalResults, 1);
    assert.equal((await events(`/api/events?users=Users-999&regarding=${dev.Id}`)).TotalResults, 0);

    // Time: from and to are inclusive; an event's own Occurred finds it.
    const ev = (await events(`/api/events?regarding=${dev.Id}`)).Items[0];
    const at = encodeURIComponent(ev.Occurred);
    const exact = await events(`/api/events?from=${at}&to=${at}&regarding=${dev.Id}`);
    assert.deepEqual(exact.Items.map((e: any) => e.Id), [ev.Id]);
    assert.equal((await events(`/api/events?from=2999-01-01&regarding=${dev.Id}`)).TotalResults, 0);
    assert.equal((await events(`/api/events?to=2000-01-01T00:00:00Z&regarding=${dev.Id}`)).TotalResults, 0);
    // An offset is understood, its `+` sent encoded or not (a bare one arrives as a space).
    const inZone = (ms: number) => new Date(ms + 2 * 3_600_000).toISOString().replace('Z', '+02:00');
    const justBefore = inZone(Date.parse(ev.Occurred) - 1000);
    const justAfter = inZone(Date.parse(ev.Occurred) + 1000);
    assert.equal((await events(`/api/events?from=${encodeURIComponent(justBefore)}&to=${encodeURIComponent(justAfter)}&regarding=${dev.Id}`)).TotalResults, 1);
    assert.equal((await events(`/api/events?from=${justBefore}&regarding=${dev.Id}`)).TotalResults, 1);
    assert.equal((await events(`/api/events?from=${justAfter}&regarding=${dev.Id}`)).TotalResults, 0);

    const categories = await events('/api/events/categories');
    assert.ok(categories.some((c: any) => c.Id === 'Created' && typeof c.Name === 'string'));
    assert.ok(categories.some((c: any) => c.Id === 'DeploymentSucceeded'));
  });

  it('answers a bad filter with a 400 naming the parameter', async () => {
    for (const [query, pattern] of [
      ['from=yesterday', /from="yesterday" is not a date/],
      ['to=2024-13-45', /to="2024-13-45" is not a date/],
      ['from=2024-05-02&to=2024-05-01', /from .* is after to/],
      ['take=-1', /take="-1" must be a whole number/],
      ['skip=abc', /skip="abc"/],
      ['eventCategories=Created,Nope', /eventCategories names "Nope", which is not an event category/],
      ['users=a&users=b', /users must be string/],
      [`regarding=${'x'.repeat(201)}`, /regarding has a value of 201 characters/],
    ] as const) {
      assertRefused(await api(a.url, `/api/events?${query}`, K), 400, pattern);
      assertRefused(await api(b.url, `/api/${space.Id}/events?${query}`, K), 400, pattern);
    }
  });

  it('lets only administrators read events', async () => {
    const user = await api(a.url, '/api/users', { ...K, body: { Username: 'auditee', DisplayName: 'Auditee', Password: 'a long enough password' } });
    assert.equal(user.status, 201, JSON.stringify(user.body));
    const key = (await api(a.url, `/api/users/${user.body.Id}/apikeys`, { ...K, body: { Purpose: 'test' } })).body.ApiKey as string;
    for (const path of ['/api/events', `/api/${space.Id}/events`, '/api/events/categories', '/api/events/Events-1', '/api/events?users=a&users=b']) {
      assertRefused(await api(b.url, path, { apiKey: key }), 403, /EventView/);
      assertRefused(await api(b.url, path), 401, /signed in/);
    }
  });

  it('records the process and variables of a project, and never a sensitive value', async () => {
    const group = (await events(`/api/${space.Id}/projectgroups`)).Items[0];
    const lifecycle = (await events(`/api/${space.Id}/lifecycles`)).Items[0];
    const project = (await api(a.url, `/api/${space.Id}/projects`, { ...K, body: { Name: 'Shop', ProjectGroupId: group.Id, LifecycleId: lifecycle.Id } })).body;
    assert.match(project.Id, /^Projects-\d+$/);
    const made = await events(`/api/${space.Id}/events?projects=${project.Id}`);
    assert.deepEqual(made.Items.map((e: any) => e.MessageText), ['Created project "Shop"'], 'one event for the project and what it brings');

    const process = await events(`/api/${space.Id}/projects/${project.Id}/deploymentprocesses`);
    const saved = await api(b.url, `/api/${space.Id}/projects/${project.Id}/deploymentprocesses`, {
      ...K, method: 'PUT',
      body: { ...process, Steps: [{ Name: 'Hello', Actions: [{ Name: 'Hello', ActionType: 'Octopus.Script', Properties: { 'Octopus.Action.Script.Syntax': 'Bash', 'Octopus.Action.Script.ScriptBody': 'echo hi' } }] }] },
    });
    assert.equal(saved.status, 200, JSON.stringify(saved.body));

    const FIRST = 'first-SECRET-4f1c2a';
    const SECOND = 'second-SECRET-9b7d3e';
    const path = `/api/${space.Id}/variables/${project.VariableSetId}`;
    const put = async (variables: object[]) => {
      const current = await events(path);
      const r = await api(a.url, path, { ...K, method: 'PUT', body: { ...current, Variables: variables } });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body;
    };
    const one = await put([{ Name: 'Plain', Value: 'visible' }, { Name: 'Password', Value: FIRST, IsSensitive: true, Type: 'Sensitive' }]);
    const password = one.Variables.find((v: any) => v.Name === 'Password');
    await put([...one.Variables.filter((v: any) => v.Name === 'Plain'), { ...password, Value: SECOND }]);
    await put([{ Name: 'Plain', Value: 'visible too' }, { ...password, Value: null }]);
    // A plain value that becomes sensitive is hidden from its event too.
    const two = await events(path);
    await put([...two.Variables.filter((v: any) => v.Name !== 'Plain'), { ...two.Variables.find((v: any) => v.Name === 'Plain'), Value: 'now-SECRET-11aa', IsSensitive: true, Type: 'Sensitive' }]);

    const list = await events(`/api/${space.Id}/events?projects=${project.Id}`, b);
    assert.deepEqual(list.Items.map((e: any) => e.MessageText), [
      'Modified the variables of project "Shop"',
      'Modified the variables of project "Shop"',
      'Modified the variables of project "Shop"',
      'Modified the variables of project "Shop"',
      'Modified the deployment process of project "Shop"',
      'Created project "Shop"',
    ]);
    assert.deepEqual(list.Items.map((e: any) => e.Details), [
      'Sensitive values set or changed (never shown): "Plain".',
      null,
      'Sensitive values set or changed (never shown): "Password".',
      'Sensitive values set or changed (never shown): "Password".',
      null,
      null,
    ]);
    const processEvent = list.Items[4];
    assert.ok(processEvent.RelatedDocumentIds.includes(project.Id) && processEvent.RelatedDocumentIds.includes(project.DeploymentProcessId));
    assert.ok(processEvent.ChangeDetails.Differences.some((d: any) => d.path === '/Steps'), JSON.stringify(processEvent.ChangeDetails));
    assert.ok(list.Items[3].ChangeDetails.Differences.some((d: any) => JSON.stringify(d).includes('visible')), 'a plain value is shown');

    const sealed = (await adminQuery('SELECT variables::text AS t FROM variable_sets WHERE id = $1', [project.VariableSetId], cluster.databaseUrl)).rows[0]!.t as string;
    const ciphertexts = [...sealed.matchAll(/"Sealed": "([^"]+)"/g)].map((m) => m[1]!);
    assert.equal(ciphertexts.length, 2);
    const everything = await api(a.url, '/api/events?take=2147483647', K);
    const stored = (await adminQuery('SELECT e::text AS t FROM events e', [], cluster.databaseUrl)).rows.map((r) => r.t as string).join('\n');
    for (const text of [JSON.stringify(everything.body), stored]) {
      assert.ok(text.includes('visible too'), 'the variables are in what is searched');
      for (const secret of [FIRST, SECOND, 'now-SECRET-11aa', ...ciphertexts]) assert.ok(!text.includes(secret), `${secret.slice(0, 12)}… appears in an event`);
      assert.ok(!text.includes('Sealed'));
    }
  });
});
