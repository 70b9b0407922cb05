// Runs the whole suite against real PostgreSQL: an embedded server started here (always), and the
// server in CUTTLE_TEST_DATABASE_URL too when it is set. A template database is built once per
// server by the product's own `cuttle database --upgrade`; each test file clones its own copy.
import { spawnSync, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { freePort, randomPassword, startEmbedded } from '../src/db/embedded.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const bin = fileURLToPath(new URL('../../bin/cuttle.js', import.meta.url));
// Unique per run, so two suites sharing one long-lived server never touch each other's databases.
const TEMPLATE = `cuttle_test_template_${process.pid}_${Date.now().toString(36)}`;

/** Test files that exercise no more of PostgreSQL than any other file does: run against the embedded server only. */
const NOT_DATABASE_FACING = [
  'portal', 'packages-large', 'packages-archive', 'packages-hostile', 'packages-names', 'deploy-substitution', 'tasks-log-large',
  // The command line, the wizard, script containment and isolation, HTTP error shapes and log files:
  // what they check does not change with the server's version.
  'cli', 'wizard', 'containment', 'worker-isolation', 'deploy-cli', 'api-errors', 'api', 'tasks-log', 'service',
];

async function prepareTemplate(adminUrl: string): Promise<void> {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    await c.query(`CREATE DATABASE "${TEMPLATE}"`);
  } finally {
    await c.end();
  }
  const u = new URL(adminUrl);
  u.pathname = `/${TEMPLATE}`;
  const r = spawnSync(process.execPath, [bin, 'database', '--upgrade', '--database', u.toString()], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`building the template database failed: ${r.stderr}`);
}

async function dropTemplate(adminUrl: string): Promise<void> {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  await c.query(`DROP DATABASE IF EXISTS "${TEMPLATE}" WITH (FORCE)`).finally(() => c.end());
}

function runTests(adminUrl: string, label: string, files: string[]): Promise<number> {
  return runBatch(adminUrl, label, files.filter((f) => !ALONE.some((n) => f.endsWith(`/${n}.test.js`))), 2)
    .then(async (code) => {
      const alone = files.filter((f) => ALONE.some((n) => f.endsWith(`/${n}.test.js`)));
      return code === 0 && alone.length ? runBatch(adminUrl, `${label}, alone`, alone, 1) : code;
    });
}

/**
 * Run after the others, one at a time: db-outage stages an outage that must end inside the nodes'
 * grace, and the portal's browser (chromium, HAProxy, three nodes) is load enough to starve the
 * timing-sensitive cluster files that would otherwise run beside it.
 */
const ALONE = ['db-outage', 'portal'];

function runBatch(adminUrl: string, label: string, files: string[], concurrency: number): Promise<number> {
  if (!files.length) return Promise.resolve(0);
  return new Promise((resolve) => {
    process.stdout.write(`\n# Cuttle tests against ${label}\n`);
    const started = Date.now();
    const child = spawn(process.execPath, ['--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', '--test-reporter-destination=stdout',
      `--test-reporter=${join(here, 'durations-reporter.js')}`, '--test-reporter-destination=stdout', ...files], {
      stdio: 'inherit',
      env: { ...process.env, CUTTLE_TEST_ADMIN_URL: adminUrl, CUTTLE_TEST_TEMPLATE: TEMPLATE, CUTTLE_TEST_LABEL: label },
    });
    child.on('exit', (code) => {
      process.stdout.write(`# ${files.length} test files against ${label} in ${((Date.now() - started) / 1000).toFixed(1)} s (wall clock)\n`);
      resolve(code ?? 1);
    });
  });
}

async function main(): Promise<number> {
  const only = process.argv.slice(2);
  const files = readdirSync(here).filter((f) => f.endsWith('.test.js')).sort()
    .filter((f) => only.length === 0 || only.some((o) => f.includes(o))).map((f) => join(here, f));
  const dir = mkdtempSync(join(tmpdir(), 'cuttle-test-pg-'));
  chmodSync(dir, 0o755); // the postgres user must reach the data folder when we run as root
  const server = await startEmbedded({ dataDir: join(dir, 'data'), port: await freePort(), password: randomPassword() });
  let code: number;
  try {
    await prepareTemplate(server.adminUrl);
    code = await runTests(server.adminUrl, 'embedded PostgreSQL', files);
    const external = process.env.CUTTLE_TEST_DATABASE_URL;
    if (external && code === 0) {
      await prepareTemplate(external);
      try {
        // The second server checks what depends on the database; files about the browser, archives,
        // memory under large files or pure logic ran once already and would only double the time.
        const dbFacing = files.filter((f) => !NOT_DATABASE_FACING.some((n) => f.endsWith(`/${n}.test.js`)));
        code = await runTests(external, `PostgreSQL at ${new URL(external).host}`, dbFacing);
      } finally {
        await dropTemplate(external);
      }
    }
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return code;
}

main().then((c) => { process.exitCode = c; }, (err) => { console.error(err); process.exitCode = 1; });
