// Black-box helpers: real databases cloned from the template, real `cuttle` processes, real HTTP.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after } from 'node:test';
import { request as httpRequest } from 'node:http';
import pg from 'pg';
import { freePort } from '../src/db/embedded.js';
import { openPool, withTransaction } from '../src/db/pool.js';
import { generateMasterKey, parseMasterKey } from '../src/crypto/masterKey.js';
import { joinCluster } from '../src/cluster/cluster.js';
import { writeNewCluster } from '../src/cli/bootstrap.js';
import { addApiKey, createOrResetAdmin } from '../src/auth/users.js';
import { resolvePaths } from '../src/storage/sharedPaths.js';
import { checkFolders } from '../src/storage/folders.js';
import { prepareHome, stageHomeFiles } from '../src/config/home.js';
import { VERSION } from '../src/version.js';

export const BIN = fileURLToPath(new URL('../../bin/cuttle.js', import.meta.url));
const ADMIN_URL = process.env.CUTTLE_TEST_ADMIN_URL;
const TEMPLATE = process.env.CUTTLE_TEST_TEMPLATE ?? 'cuttle_test_template';

// Cleanups run once, after the whole test file (hooks registered inside a suite's `before` would
// run when that hook's scope ends, which is too early for folders and databases a suite uses).
const cleanups: (() => Promise<void> | void)[] = [];
const running = new Set<ChildProcess>();
after(async () => {
  for (const c of running) c.kill('SIGKILL');
  for (const c of cleanups.reverse()) await Promise.resolve().then(c).catch(() => undefined);
});

function adminUrl(): string {
  if (!ADMIN_URL) throw new Error('Run the tests with `npm test` (test/run.ts starts PostgreSQL and sets CUTTLE_TEST_ADMIN_URL).');
  return ADMIN_URL;
}

export function dbUrl(name: string): string {
  const u = new URL(adminUrl());
  u.pathname = `/${name}`;
  return u.toString();
}

export async function adminQuery<T extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params: unknown[] = [], url = adminUrl()): Promise<pg.QueryResult<T>> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await c.query<T>(sql, params);
  } finally {
    await c.end();
  }
}

/** A database of its own for the calling test: a clone of the migrated template, or empty. */
export async function freshDatabase(opts: { empty?: boolean } = {}): Promise<string> {
  const name = `cuttle_t_${randomBytes(5).toString('hex')}`;
  await adminQuery(opts.empty ? `CREATE DATABASE "${name}"` : `CREATE DATABASE "${name}" TEMPLATE "${TEMPLATE}"`);
  cleanups.push(async () => { await adminQuery(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`); });
  return dbUrl(name);
}

/** A temporary folder, removed after the test file. */
export function tempDir(prefix = 'cuttle-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(d, 0o755);
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

export interface CliResult { code: number; stdout: string; stderr: string }

/** Runs the real CLI as a subprocess. */
export function cuttle(args: string[], env: NodeJS.ProcessEnv = {}, input?: string): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...FAST_TIMINGS, ...env },
    input,
    timeout: 60_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Short liveness timings so failure detection is quick in tests. */
export const FAST_TIMINGS = {
  CUTTLE_HEARTBEAT_SECONDS: '0.5',
  CUTTLE_OFFLINE_THRESHOLD_SECONDS: '3',
  CUTTLE_STORAGE_CHECK_SECONDS: '1',
};

export interface NodeProcess {
  readonly name: string;
  readonly home: string;
  readonly url: string;
  readonly child: ChildProcess;
  output(): string;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}


/**
 * Starts `cuttle run` for a home and waits until it answers its ping. `wrap` turns the command line
 * into another one that ends up exec-ing it (e.g. inside `unshare -m`), so the pid stays the node's.
 */
export async function startNode(home: string, name: string, env: NodeJS.ProcessEnv = {}, port?: number, wrap?: (argv: string[]) => string[]): Promise<NodeProcess> {
  const p = port ?? (await freePort());
  const argv = [process.execPath, BIN, 'run', '--home', home];
  const [cmd, ...args] = (wrap ? wrap(argv) : argv) as [string, ...string[]];
  const child = spawn(cmd, args, {
    env: { ...process.env, ...FAST_TIMINGS, CUTTLE_LISTEN: `127.0.0.1:${p}`, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => { running.delete(child); r(code); }));
  const url = `http://127.0.0.1:${p}`;
  const node: NodeProcess = {
    name, home, url, child,
    output: () => out,
    kill: async (signal = 'SIGKILL') => { if (child.exitCode === null && child.signalCode === null) child.kill(signal); return exited; },
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`node ${name} exited with ${child.exitCode}: ${out}`);
    try {
      const r = await fetch(`${url}/api/octopusservernodes/ping`);
      if (r.status === 200 || r.status === 418) return node;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) { child.kill('SIGKILL'); throw new Error(`node ${name} did not come up: ${out}`); }
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface ApiResponse<T = any> { status: number; body: T; headers: Headers }

export async function api<T = any>(base: string, path: string, opts: { method?: string; body?: unknown; rawBody?: string; apiKey?: string; cookie?: string; contentType?: string; csrf?: string; headers?: Record<string, string> } = {}): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.apiKey) headers['X-Octopus-ApiKey'] = opts.apiKey;
  if (opts.cookie) headers.cookie = opts.cookie;
  if (opts.csrf) headers['X-Octopus-Csrf-Token'] = opts.csrf;
  let body: string | undefined;
  if (opts.rawBody !== undefined) body = opts.rawBody;
  else if (opts.body !== undefined) body = JSON.stringify(opts.body);
  if (body !== undefined) headers['content-type'] = opts.contentType ?? 'application/json';
  const r = await fetch(base + path, { method: opts.method ?? (body !== undefined ? 'POST' : 'GET'), headers, body });
  const text = await r.text();
  let parsed: unknown = text;
  try { parsed = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, body: parsed as T, headers: r.headers };
}

/** A browser's sign-in: the cookies it would send back, and the anti-forgery token its script would echo. */
export interface BrowserSession { readonly cookie: string; readonly csrf: string; readonly setCookies: string[] }

/** Signs in through `POST /api/users/login` (asserting 200) and returns what a browser would keep. */
export async function signIn(base: string, username: string, password: string): Promise<BrowserSession> {
  const r = await fetch(`${base}/api/users/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ Username: username, Password: password }) });
  const text = await r.text();
  if (r.status !== 200) throw new Error(`signing in as ${username} answered ${r.status}: ${text}`);
  const setCookies = r.headers.getSetCookie();
  const pairs = setCookies.map((c) => c.split(';')[0]!);
  const csrf = pairs.find((p) => p.startsWith('Octopus-Csrf-Token='));
  if (!csrf) throw new Error(`signing in as ${username} set no Octopus-Csrf-Token cookie: ${setCookies.join(' | ')}`);
  return { cookie: pairs.join('; '), csrf: decodeURIComponent(csrf.slice(csrf.indexOf('=') + 1)), setCookies };
}

/**
 * Announces a body of `length` bytes and waits for the server's answer before sending any of it: a
 * server that refuses the size from the headers answers at once. (Sending the body too races the
 * server's close: the reset can destroy its answer before the client reads it.)
 */
export function apiAnnouncingBody(base: string, path: string, method: string, length: number, apiKey: string): Promise<ApiResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(base + path, { method, headers: { 'content-type': 'application/json', 'content-length': length, 'X-Octopus-ApiKey': apiKey } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => { text += d; }).on('end', () => {
        req.destroy();
        let parsed: unknown = text;
        try { parsed = JSON.parse(text); } catch { /* not JSON */ }
        const headers = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers.set(k, v);
        resolve({ status: res.statusCode ?? 0, body: parsed, headers });
      });
    });
    req.on('error', reject);
    req.flushHeaders();
    setTimeout(() => { req.destroy(); reject(new Error(`${method} ${path}: no answer to the announced ${length}-byte body within 10 s`)); }, 10_000).unref();
  });
}

export const ADMIN_PASSWORD = 'correct-horse-battery';
export const ADMIN_API_KEY = 'API-TESTKEY0000000000000000000001';

export interface TestCluster {
  readonly databaseUrl: string;
  readonly shared: string;
  readonly masterKey: string;
  readonly homes: string[];
  readonly root: string;
}

/**
 * The HA flow of SPEC.md §2 through the real CLI: setup on the first home, show-master-key,
 * path --cluster-shared, then join for every other home. Nodes are started by the caller.
 */
export async function createCluster(names: string[], opts: { databaseUrl?: string } = {}): Promise<TestCluster> {
  const databaseUrl = opts.databaseUrl ?? (await freshDatabase({ empty: true }));
  const root = tempDir('cuttle-cluster-');
  const shared = join(root, 'shared');
  mkdirSync(shared);
  const homes = names.map((n) => join(root, `home-${n}`));
  const first = names[0]!;
  must(cuttle(['setup', '--home', homes[0]!, '--database', databaseUrl, '--admin-username', 'admin', '--admin-password', ADMIN_PASSWORD, '--node-name', first]));
  const masterKey = must(cuttle(['show-master-key', '--home', homes[0]!])).stdout.trim();
  must(cuttle(['path', '--home', homes[0]!, '--cluster-shared', shared]));
  must(cuttle(['admin', '--home', homes[0]!, '--username', 'admin', '--api-key', ADMIN_API_KEY]));
  for (let i = 1; i < names.length; i++) {
    must(cuttle(['join', '--home', homes[i]!, '--database', databaseUrl, '--master-key', masterKey, '--node-name', names[i]!]));
  }
  return { databaseUrl, shared, masterKey, homes, root };
}

/**
 * The same cluster as `createCluster` (same homes, shared folders, admin, API key and node rows),
 * built in this process with the product's own functions instead of four CLI runs: what `setup`,
 * `path --cluster-shared`, `admin --api-key` and `join` do, on a clone of the migrated template.
 * For tests that need a cluster, not tests of how one is made: cli.test.ts, cluster.test.ts (the HA
 * flow) and crypto.test.ts build theirs with `createCluster` on purpose, wizard.test.ts with the wizard.
 */
export async function readyCluster(names: string[], opts: { databaseUrl?: string } = {}): Promise<TestCluster> {
  if (names.length === 0) throw new Error('readyCluster needs at least one node name');
  const databaseUrl = opts.databaseUrl ?? (await freshDatabase());
  const root = tempDir('cuttle-cluster-');
  const shared = join(root, 'shared');
  mkdirSync(shared);
  const homes = names.map((n) => join(root, `home-${n}`));
  const key = parseMasterKey(generateMasterKey());
  // `cuttle path --cluster-shared` stores the root with no overrides, after proving (and creating) every sub-folder.
  const sharedPaths = { clusterShared: shared, folders: {} };
  const bad = (await checkFolders(resolvePaths(sharedPaths)!, true)).filter((f) => !f.ok);
  if (bad.length) throw new Error(`shared folders not usable: ${bad.map((b) => b.problem).join('; ')}`);
  const pool = await openPool(databaseUrl, { max: 1, applicationName: 'cuttle test cluster' });
  try {
    await withTransaction(pool, async (c) => {
      await writeNewCluster(c, { key, adminUsername: 'admin', adminPassword: ADMIN_PASSWORD, nodeName: names[0]!, version: VERSION, sharedPaths });
      const admin = await createOrResetAdmin(c, 'admin', undefined);
      await addApiKey(c, admin.user.id, 'cuttle admin', ADMIN_API_KEY);
      for (const n of names.slice(1)) await joinCluster(c, key, n, VERSION);
    }, 1);
  } finally {
    await pool.end();
  }
  names.forEach((nodeName, i) => {
    prepareHome(homes[i]!);
    stageHomeFiles(homes[i]!, { nodeName, databaseUrl, listen: '0.0.0.0:8080' }, key.base64).commit();
  });
  return { databaseUrl, shared, masterKey: key.base64, homes, root };
}

export function must(r: CliResult): CliResult {
  if (r.code !== 0) throw new Error(`cuttle exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r;
}

/**
 * True while the process runs. A killed process whose parent died is a zombie until init reaps it
 * (on this machine's init, a second or more later); `kill(pid, 0)` still finds it, but it is dead.
 */
export function processRunning(pid: number): boolean {
  try { process.kill(pid, 0); } catch { return false; }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Polls `fn` (sync or async) until it returns something other than undefined or false; returns that. */
export async function waitFor<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 20_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Queues a task through the API as the administrator and returns it (asserting 201). */
export async function queueTask(node: NodeProcess, body: object): Promise<any> {
  const r = await api(node.url, '/api/tasks', { apiKey: ADMIN_API_KEY, body });
  if (r.status !== 201) throw new Error(`queueing ${JSON.stringify(body)} answered ${r.status}: ${JSON.stringify(r.body)}`);
  return r.body;
}

/** Waits until the task, read from `node`, satisfies `pred`; returns it. */
export async function untilTask(node: NodeProcess, id: string, pred: (t: any) => boolean, what: string, timeoutMs: number): Promise<any> {
  return waitFor(`${id} ${what}`, async () => {
    const t = (await api(node.url, `/api/tasks/${id}`, { apiKey: ADMIN_API_KEY })).body;
    return pred(t) ? t : undefined;
  }, timeoutMs, 25);
}

/**
 * Shell text for a script: writes `<pid namespace> <pid> <start time>` of a process it started
 * (`$!`, or `$$`) to `file`, whole (temp file, rename). Inside a PID namespace a script sees its own
 * pids, not the host's, so a bare pid would name some unrelated host process; a namespace's id is
 * reused once it is gone, hence the start time too. `recordedRunning` reads this.
 */
export function recordPid(file: string, pid = '$!'): string {
  // No single quotes: callers may put this inside a single-quoted `bash -c '…'`.
  return `echo "$(readlink /proc/self/ns/pid) ${pid} $(sed "s/.*) //" /proc/${pid}/stat 2>/dev/null | cut -d" " -f20)" > ${file}.tmp && mv ${file}.tmp ${file}`;
}

/** Whether the process a script named with `recordPid` still runs (a zombie does not), found on the host by its namespace, its pid there and its start. */
export function recordedRunning(record: string): boolean {
  const [ns, pid, start] = record.trim().split(' ');
  if (!ns || !pid) throw new Error(`not a recorded pid: "${record}"`);
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readlinkSync(`/proc/${d}/ns/pid`) !== ns) continue;
      const status = readFileSync(`/proc/${d}/status`, 'utf8');
      const nspid = /^NSpid:\s+(.*)$/m.exec(status)?.[1]?.trim().split(/\s+/) ?? [d];
      if (nspid[nspid.length - 1] !== pid || /^State:\s+Z/m.test(status)) continue;
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      if (!start || stat.slice(stat.lastIndexOf(') ') + 2).split(' ')[19] === start) return true;
    } catch { /* gone meanwhile */ }
  }
  return false;
}

export interface OsTestUser { readonly name: string; readonly uid: number; readonly gid: number }

/**
 * The OS user tests run scripts as (created once per machine, as `useradd --system` would for a
 * real worker account), or undefined when the tests do not run as root.
 */
export function testWorkerUser(name = 'cuttle-test-worker'): OsTestUser | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const look = () => {
    const uid = spawnSync('id', ['-u', name], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', name], { encoding: 'utf8' });
    return uid.status === 0 && gid.status === 0 ? { name, uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) } : undefined;
  };
  // Two test files may create it at once: the loser of the race finds it made by the other.
  for (let i = 0; i < 20; i++) {
    const found = look();
    if (found) return found;
    spawnSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', name]);
    spawnSync('sleep', ['0.1']);
  }
  throw new Error(`could not create the OS user ${name} (useradd)`);
}

/** The client folds the server's `ErrorMessage` and `Errors` into its message and keeps the status. */
export function refusedWith(status: number, pattern: RegExp): (err: unknown) => boolean {
  return (err) => {
    const e = err as { StatusCode?: number; message: string };
    assert.equal(e.StatusCode, status, `status of: ${e.message}`);
    assert.match(e.message, pattern);
    return true;
  };
}

/** An API answer refused with `status` and Octopus's error body, its text matching `pattern`. */
export function assertRefused(r: ApiResponse, status: number, pattern: RegExp): void {
  assert.equal(r.status, status, JSON.stringify(r.body));
  assert.equal(typeof r.body.ErrorMessage, 'string');
  assert.ok(Array.isArray(r.body.Errors));
  assert.match(`${r.body.ErrorMessage}\n${(r.body.Errors as string[]).join('\n')}`, pattern);
}

/** Makes a folder read-only: a read-only bind mount as root (root ignores permissions), chmod 555 otherwise; returns the undo. */
export function makeReadOnly(dir: string): () => void {
  if (process.getuid?.() === 0) {
    spawnSync('mount', ['--bind', dir, dir], { stdio: 'ignore' });
    const r = spawnSync('mount', ['-o', 'remount,ro,bind', dir, dir], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`could not make ${dir} read-only: ${r.stderr}`);
    return () => { spawnSync('umount', [dir], { stdio: 'ignore' }); };
  }
  chmodSync(dir, 0o555);
  return () => chmodSync(dir, 0o755);
}
