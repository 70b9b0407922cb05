// Real-browser tests of the portal: Debian's chromium driven by playwright-core, and HAProxy as
// the load balancer (round-robin, no sticky sessions, health check on the node ping), in front of
// real `cuttle run` processes. Screenshots go to test-output/screenshots/ for a person to look at.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { freePort } from '../src/db/embedded.js';
import { ADMIN_PASSWORD, tempDir, type NodeProcess } from './helpers.js';

export const CHROMIUM = process.env.CUTTLE_CHROMIUM ?? '/usr/bin/chromium';
export const HAPROXY = process.env.CUTTLE_HAPROXY ?? (existsSync('/usr/sbin/haproxy') ? '/usr/sbin/haproxy' : 'haproxy');
export const SCREENSHOTS = fileURLToPath(new URL('../../test-output/screenshots/', import.meta.url));

/**
 * Why the browser tests cannot run here, or undefined when they can. Outside CI a machine without
 * chromium or HAProxy skips them with this sentence; in CI (`.ci/run` installs both) they must run.
 */
export function browserUnavailable(): string | undefined {
  const missing = [existsSync(CHROMIUM) ? undefined : `chromium (${CHROMIUM})`, haproxyWorks() ? undefined : 'haproxy'].filter(Boolean);
  if (!missing.length) return undefined;
  const why = `the portal's browser tests need ${missing.join(' and ')}: apt-get install -y chromium haproxy`;
  if (process.env.CI) throw new Error(`${why} (CI installs them in .ci/run)`);
  return why;
}

function haproxyWorks(): boolean {
  return spawnSync(HAPROXY, ['-v'], { encoding: 'utf8' }).status === 0;
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}

/** HAProxy in front of the nodes, as deploy/haproxy.cfg: round-robin, no stickiness, ping health check. */
export class LoadBalancer {
  private child?: ChildProcess;
  private out = '';
  url = '';

  async start(nodes: readonly NodeProcess[]): Promise<void> {
    const port = await freePort();
    const dir = tempDir('cuttle-haproxy-');
    const cfg = join(dir, 'haproxy.cfg');
    writeFileSync(cfg, [
      'global', '    maxconn 512',
      'defaults', '    mode http', '    timeout connect 2s', '    timeout client 5m', '    timeout server 5m',
      // A request to a node that just died is tried once more on another (not one in flight).
      '    retries 2', '    option redispatch', '    option forwardfor',
      'frontend cuttle', `    bind 127.0.0.1:${port}`, '    default_backend nodes',
      'backend nodes', '    balance roundrobin',
      '    option httpchk GET /api/octopusservernodes/ping', '    http-check expect status 200',
      ...nodes.map((n) => `    server ${n.name} ${new URL(n.url).host} check inter 500ms fall 2 rise 1`),
      '',
    ].join('\n'));
    const child = spawn(HAPROXY, ['-f', cfg, '-db'], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout?.on('data', (d: Buffer) => { this.out += d.toString(); });
    child.stderr?.on('data', (d: Buffer) => { this.out += d.toString(); });
    this.url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`haproxy exited: ${this.out}`);
      try {
        if ((await fetch(`${this.url}/api`)).status === 200) return;
      } catch { /* not yet */ }
      if (Date.now() > deadline) throw new Error(`haproxy did not answer: ${this.out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async stop(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null) return;
    const gone = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await gone;
  }
}

/** Signs in through the sign-in page, as a person does, and waits for the app to leave it. */
export async function signInThroughPage(page: Page, base: string, username = 'admin', password = ADMIN_PASSWORD): Promise<void> {
  await page.goto(`${base}/sign-in`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((u) => !u.pathname.startsWith('/sign-in'));
}

/** Errors the page threw or logged: a test asserts there are none worth a user's notice. */
export function collectPageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  return errors;
}

/** Saves the page at laptop and phone widths: test-output/screenshots/<name>-1280.png and -390.png. */
export async function screenshots(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const original = page.viewportSize() ?? { width: 1280, height: 800 };
  for (const width of [1280, 390]) {
    await page.setViewportSize({ width, height: width === 390 ? 844 : 800 });
    await page.waitForTimeout(150);
    await page.screenshot({ path: join(SCREENSHOTS, `${name}-${width}.png`), fullPage: true });
  }
  await page.setViewportSize(original);
}
