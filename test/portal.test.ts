// The portal in a real browser (Debian's chromium through playwright-core) against a real cluster
// of three `cuttle run` processes behind HAProxy (round-robin, no sticky sessions): assets and deep
// links from every node, a session that works on every node, a node killed with SIGKILL shown
// offline on the Nodes page and unnoticed by the user, draining from the page.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ADMIN_API_KEY, api, readyCluster, startNode, type NodeProcess } from './helpers.js';
import { LoadBalancer, browserUnavailable, collectPageErrors, launchBrowser, screenshots, signInThroughPage } from './browser.js';

const skip = browserUnavailable();

describe('the portal on three nodes behind HAProxy, in a real browser', { skip }, () => {
  let nodes: NodeProcess[] = [];
  const lb = new LoadBalancer();
  let browser: Browser;

  before(async () => {
    const names = ['portal-a', 'portal-b', 'portal-c'];
    const cluster = await readyCluster(names);
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
});

if (skip) process.stdout.write(`# portal browser tests skipped: ${skip}\n`);
