// The portal in a real browser (Debian's chromium through playwright-core) against a real cluster
// of three `cuttle run` processes behind HAProxy (round-robin, no sticky sessions): assets and deep
// links from every node, a session that works on every node, a node killed with SIGKILL shown
// offline on the Nodes page and unnoticed by the user, draining from the page.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import * as tar from 'tar';
import { ADMIN_API_KEY, ADMIN_PASSWORD, api, readyCluster, startNode, tempDir, type NodeProcess } from './helpers.js';
import { LoadBalancer, browserUnavailable, collectPageErrors, launchBrowser, screenshots, signInThroughPage } from './browser.js';

const skip = browserUnavailable();

describe('the portal on three nodes behind HAProxy, in a real browser', { skip }, () => {
  let nodes: NodeProcess[] = [];
  const lb = new LoadBalancer();
  let browser: Browser;
  let masterKey = '';

  before(async () => {
    const names = ['portal-a', 'portal-b', 'portal-c'];
    const cluster = await readyCluster(names);
    masterKey = cluster.masterKey;
    nodes = await Promise.all(names.map((n, i) => startNode(cluster.homes[i]!, n)));
    await lb.start(nodes);
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await lb.stop();
    await Promise.all(nodes.map((n) => n.kill()));
  });

  async function freshPage(): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    return { context, page, errors: collectPageErrors(page) };
  }

  it('serves the same app from every node: hashed assets cached for a year, the page revalidated, deep links answered with the app', async () => {
    const pages = await Promise.all(nodes.map(async (n) => {
      const r = await fetch(`${n.url}/`);
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('cache-control'), 'no-cache');
      assert.match(r.headers.get('content-type') ?? '', /^text\/html/);
      return r.text();
    }));
    assert.ok(pages.every((p) => p === pages[0]), 'every node serves the same build');
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(pages[0]!)?.[1];
    assert.ok(asset, 'the page loads a content-hashed script');
    for (const n of nodes) {
      const r: Response = await fetch(`${n.url}${asset}`);
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('cache-control'), 'public, max-age=31536000, immutable');
      assert.match(r.headers.get('content-type') ?? '', /javascript/);
    }
    // A deep link is the app (its router reads the path); a missing asset is not; the API stays the API.
    const deep = await fetch(`${nodes[1]!.url}/tasks/ServerTasks-12345?x=1`);
    assert.equal(deep.status, 200);
    assert.equal(await deep.text(), pages[0]);
    assert.equal((await fetch(`${nodes[1]!.url}/assets/missing-0000.js`)).status, 404);
    assert.equal((await fetch(`${nodes[1]!.url}/assets/%2e%2e/%2e%2e/package.json`)).status, 404);
    const apiMiss = await fetch(`${nodes[1]!.url}/api/no-such-thing`);
    assert.equal(apiMiss.status, 401, 'an unknown API path without credentials is still refused, not the app');
  });

  it('signs in on node A and carries on on node B with the same session; signing out on B ends it on A', async () => {
    const { context, page, errors } = await freshPage();
    try {
      const [a, b] = nodes as [NodeProcess, NodeProcess];
      await signInThroughPage(page, a.url);
      // A reload of a deep link on the other node: the session works there, and the page says which node served it.
      await page.goto(`${b.url}/configuration/nodes`);
      await page.getByRole('heading', { name: 'Nodes', level: 1 }).waitFor();
      assert.equal(new URL(page.url()).pathname, '/configuration/nodes');
      await page.getByText(`node ${b.name}`, { exact: true }).waitFor();
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.waitForURL((u) => u.pathname === '/sign-in');
      await page.goto(`${a.url}/tasks`);
      await page.waitForURL((u) => u.pathname === '/sign-in' && u.searchParams.get('next') === '/tasks');
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  it('through the load balancer a node killed with SIGKILL goes unnoticed, and the Nodes page shows it offline within seconds', async () => {
    const { context, page, errors } = await freshPage();
    try {
      await signInThroughPage(page, lb.url);
      await page.goto(`${lb.url}/configuration/nodes`);
      const victim = nodes[2]!;
      const status = page.locator(`[data-node="${victim.name}"] [data-status]`);
      await status.filter({ hasText: /running/i }).waitFor({ timeout: 15_000 });
      await screenshots(page, 'nodes');
      const killedAt = Date.now();
      await victim.kill('SIGKILL');
      await status.filter({ hasText: /offline/i }).waitFor({ timeout: 20_000 });
      const seconds = (Date.now() - killedAt) / 1000;
      process.stdout.write(`# Nodes page showed ${victim.name} offline ${seconds.toFixed(1)} s after SIGKILL\n`);
      await screenshots(page, 'nodes-offline');
      // The user carries on through the balancer: other pages load, with no error shown.
      for (const path of ['/tasks', '/Spaces-1/projects', '/configuration/nodes']) {
        await page.goto(`${lb.url}${path}`);
        await page.locator('main h1').first().waitFor();
        assert.equal(await page.locator('.error-box').count(), 0, `no error on ${path}`);
      }
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  it('drains a node from the Nodes page and shows it drained; undrains it again', async () => {
    const { context, page, errors } = await freshPage();
    try {
      const target = nodes[1]!;
      await signInThroughPage(page, nodes[0]!.url);
      await page.goto(`${nodes[0]!.url}/configuration/nodes`);
      const row = page.locator(`[data-node="${target.name}"]`);
      await row.locator('[data-status]').filter({ hasText: /running/i }).waitFor({ timeout: 15_000 });
      await row.getByLabel(`Drain ${target.name}`).check();
      await row.getByRole('button', { name: 'Save' }).click();
      await row.locator('[data-status]').filter({ hasText: /drain/i }).waitFor({ timeout: 15_000 });
      const id = (await api(nodes[0]!.url, '/api/octopusservernodes/all', { apiKey: ADMIN_API_KEY })).body
        .find((n: { Name: string }) => n.Name === target.name).Id as string;
      assert.equal((await api(nodes[0]!.url, `/api/octopusservernodes/${id}`, { apiKey: ADMIN_API_KEY })).body.IsInMaintenanceMode, true);
      // The drained node answers its ping with 418, so the balancer sends it nothing new.
      assert.equal((await fetch(`${target.url}/api/octopusservernodes/ping`)).status, 418);
      await row.getByLabel(`Drain ${target.name}`).uncheck();
      await row.getByRole('button', { name: 'Save' }).click();
      await row.locator('[data-status]').filter({ hasText: /running/i }).waitFor({ timeout: 15_000 });
      assert.equal((await api(nodes[0]!.url, `/api/octopusservernodes/${id}`, { apiKey: ADMIN_API_KEY })).body.IsInMaintenanceMode, false);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  it('queues a script from the Tasks page and shows its log lines as they are written', async () => {
    const { context, page, errors } = await freshPage();
    try {
      await signInThroughPage(page, lb.url);
      await page.goto(`${lb.url}/tasks`);
      await page.getByRole('button', { name: 'Run a script' }).first().click();
      await page.getByLabel('Script', { exact: true }).fill('echo "first line from the portal"; sleep 5; echo "second line from the portal"');
      await page.getByRole('button', { name: 'Run', exact: true }).click();
      await page.waitForURL((u) => /^\/tasks\/ServerTasks-\d+$/.test(u.pathname));
      const log = page.locator('.log');
      await log.getByText('first line from the portal').first().waitFor({ timeout: 20_000 });
      // Live: the first line is on the page while the script still sleeps before the second.
      assert.equal(await log.getByText('second line from the portal').count(), 0, 'the second line is not written yet');
      await log.getByText('second line from the portal').first().waitFor({ timeout: 20_000 });
      await page.locator('main').getByText('Success').first().waitFor({ timeout: 20_000 });
      await screenshots(page, 'task');
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  it('creates an environment, a project with a script step and a sensitive variable, a release, and deploys it, the value masked', async () => {
    const { context, page, errors } = await freshPage();
    const secret = 'portal-s3cret-value-7781';
    try {
      await signInThroughPage(page, lb.url);
      await page.goto(`${lb.url}/Spaces-1/infrastructure/environments`);
      await page.getByRole('button', { name: 'Add environment' }).first().click();
      await page.getByLabel('Name', { exact: true }).fill('Portal Dev');
      await page.getByRole('button', { name: 'Save' }).click();
      await page.locator('main').getByText('Portal Dev').first().waitFor();
      await screenshots(page, 'environments');

      await page.goto(`${lb.url}/Spaces-1/projects`);
      await page.getByRole('button', { name: 'Add project', exact: true }).first().click();
      await page.getByLabel('Name', { exact: true }).fill('Portal Web');
      await page.getByRole('button', { name: 'Save' }).click();
      await page.waitForURL((u) => /\/Spaces-1\/projects\/Projects-\d+$/.test(u.pathname));
      const project = page.url();

      await page.goto(`${project}/process`);
      await page.getByRole('button', { name: 'Add step' }).first().click();
      await page.getByRole('button', { name: /Run a script/ }).first().click();
      await page.getByLabel('Step name').fill('Say hello');
      await page.getByLabel('Script', { exact: true }).fill('echo "the password is #{DbPassword}"\necho "deploying to #{Octopus.Environment.Name}"');
      await page.getByRole('button', { name: 'Save' }).click();
      await page.getByText('Say hello').first().waitFor();
      await screenshots(page, 'process');

      await page.goto(`${project}/variables`);
      await page.getByRole('button', { name: 'Add variable' }).first().click();
      await page.getByLabel('Name', { exact: true }).last().fill('DbPassword');
      await page.getByLabel('Sensitive').last().check();
      await page.getByLabel('Value', { exact: true }).last().fill(secret);
      await page.getByRole('button', { name: 'Save' }).click();
      await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
      await page.reload();
      await page.locator('input[aria-label="Name"]').first().waitFor();
      assert.equal(await page.locator('input[aria-label="Name"]').first().inputValue(), 'DbPassword');
      await page.getByLabel('A sensitive value, not shown').first().waitFor();
      assert.ok(!(await page.content()).includes(secret), 'a sensitive value is never shown back');
      await screenshots(page, 'variables');

      await page.goto(`${project}/releases`);
      await page.getByRole('link', { name: 'Create release' }).or(page.getByRole('button', { name: 'Create release' })).first().click();
      await page.getByRole('button', { name: 'Save' }).click();
      await page.waitForURL((u) => /\/releases\/Releases-\d+$/.test(u.pathname));
      await screenshots(page, 'release');
      await page.getByLabel('Environment').selectOption({ label: 'Portal Dev' });
      await page.getByRole('button', { name: 'Deploy', exact: true }).click();
      await page.waitForURL((u) => /^\/tasks\/ServerTasks-\d+$/.test(u.pathname), { timeout: 20_000 });
      const log = page.locator('.log');
      await log.getByText('deploying to Portal Dev').first().waitFor({ timeout: 30_000 });
      await log.getByText('the password is ********').first().waitFor({ timeout: 10_000 });
      await page.locator('main').getByText('Success').first().waitFor({ timeout: 30_000 });
      assert.ok(!(await page.content()).includes(secret), 'the task page never shows the sensitive value');
      await screenshots(page, 'deployment-task');

      await page.goto(`${project}`);
      await page.getByText('Portal Dev').first().waitFor();
      await screenshots(page, 'project-overview');
      await page.goto(`${project}/deployments`);
      await page.locator('main h1').first().waitFor();
      await screenshots(page, 'project-deployments');
      await page.goto(`${lb.url}/Spaces-1`);
      await page.getByText('Portal Web').first().waitFor();
      await screenshots(page, 'dashboard');
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  it('uploads a package through the Library page and lists it, downloadable from every node', async () => {
    const { context, page, errors } = await freshPage();
    try {
      const dir = tempDir('cuttle-portal-pkg-');
      writeFileSync(join(dir, 'index.html'), '<h1>hello from a package</h1>\n');
      const file = join(dir, 'PortalSite.1.2.3.tar.gz');
      await tar.create({ file, cwd: dir, gzip: true }, ['index.html']);
      await signInThroughPage(page, lb.url);
      await page.goto(`${lb.url}/Spaces-1/library/packages`);
      await page.getByLabel('Package file').setInputFiles(file);
      await page.getByRole('button', { name: 'Upload' }).click();
      await page.locator('main').getByText('PortalSite').first().waitFor({ timeout: 20_000 });
      await screenshots(page, 'packages');
      const original = readFileSync(file);
      for (const n of nodes.slice(0, 2)) {
        const r = await fetch(`${n.url}/api/Spaces-1/packages/packages-PortalSite.1.2.3/raw`, { headers: { 'X-Octopus-ApiKey': ADMIN_API_KEY } });
        assert.equal(r.status, 200);
        assert.ok(Buffer.from(await r.arrayBuffer()).equals(original), `the bytes downloaded from ${n.name} are the ones uploaded`);
      }
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  it('shows every main page at laptop and phone widths without an error', async () => {
    const { context, page, errors } = await freshPage();
    try {
      await page.goto(`${lb.url}/sign-in`);
      await screenshots(page, 'sign-in');
      await signInThroughPage(page, lb.url);
      const pages: [string, string][] = [
        ['projects', '/Spaces-1/projects'], ['library-lifecycles', '/Spaces-1/library/lifecycles'], ['tasks', '/tasks'],
        ['configuration-users', '/configuration/users'], ['configuration-profile', '/configuration/profile'],
        ['configuration-audit', '/configuration/audit'], ['configuration-spaces', '/configuration/spaces'],
        ['configuration-storage', '/configuration/storage'], ['configuration-masterkey', '/configuration/masterkey'],
      ];
      for (const [name, path] of pages) {
        await page.goto(`${lb.url}${path}`);
        await page.locator('main h1').first().waitFor();
        await page.waitForLoadState('networkidle').catch(() => undefined);
        assert.equal(await page.locator('.error-box').count(), 0, `no error on ${path}`);
        await screenshots(page, name);
      }
      // The master key, after the password again; a wrong one is refused in words.
      await page.goto(`${lb.url}/configuration/masterkey`);
      await page.getByLabel('Password').fill('not-the-password');
      await page.getByRole('button', { name: 'Show master key' }).click();
      await page.locator('.error-box').waitFor();
      await page.getByLabel('Password').fill(ADMIN_PASSWORD);
      await page.getByRole('button', { name: 'Show master key' }).click();
      await page.getByText(masterKey).waitFor();
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });
});

if (skip) process.stdout.write(`# portal browser tests skipped: ${skip}\n`);
