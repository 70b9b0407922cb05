// The script runner on its own: containment, the dead-man's switch and the worker user, with
// real processes, a real PID namespace (when the machine offers one) and a real OS user (as root).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runScript, type ScriptOptions } from '../src/tasks/runner.js';
import { detectContainment, PROCESS_GROUP, type Containment } from '../src/tasks/containment.js';
import type { LogBlock } from '../src/tasks/log.js';
import type { Outcome } from '../src/tasks/types.js';
import { recordPid, recordedRunning, tempDir, testWorkerUser, waitFor } from './helpers.js';

const RUNNER = new URL('../src/tasks/runner.js', import.meta.url).href;
const isRoot = process.getuid?.() === 0;
const namespaces = spawnSync('unshare', [...(isRoot ? [] : ['--user', '--map-current-user']), '--pid', '--fork', '--kill-child', '--mount-proc', 'true']).status === 0;
const worker = testWorkerUser();

/** A log that keeps its lines: `Info: text`, `Error: text`. */
function collectingLog(): { log: LogBlock; lines: string[] } {
  const lines: string[] = [];
  const write = (category: string, message: string) => { lines.push(`${category}: ${message}`); return Promise.resolve(); };
  const log = { write, info: (m: string) => write('Info', m), error: (m: string) => write('Error', m) } as unknown as LogBlock;
  return { log, lines };
}

// The root of the work folders is the node's, 0711; records go to a folder any user may write.
const workRoot = tempDir('cuttle-work-');
chmodSync(workRoot, 0o711);
const records = tempDir('cuttle-records-');
chmodSync(records, 0o1777);
let n = 0;
const record = (name: string) => join(records, `${++n}-${name}`);

async function run(containment: Containment, body: string, extra: Partial<ScriptOptions> = {}): Promise<{ outcome: Outcome; lines: string[]; artifacts: string[] }> {
  const { log, lines } = collectingLog();
  const artifacts: string[] = [];
  const outcome = await runScript({
    body, syntax: 'Bash', cwd: join(workRoot, `script-${++n}`), signal: new AbortController().signal, log, nodeName: 'test',
    services: { createArtifact: (path, name) => { artifacts.push(`${name} ${readFileSync(path, 'utf8').trim()}`); return Promise.resolve(); } },
    containment, ...extra,
  });
  return { outcome, lines, artifacts };
}

/** A node of its own (a child process running the runner), so the test can freeze or kill it. */
function nodeRunning(containment: Containment, body: string, deadManMs: number): { child: ChildProcess; outcome: Promise<string> } {
  const code = `
    const { runScript } = await import(${JSON.stringify(RUNNER)});
    const say = (m) => { process.stdout.write(m + '\\n'); return Promise.resolve(); };
    const o = await runScript({ body: process.env.BODY, syntax: 'Bash', cwd: process.env.CWD, signal: new AbortController().signal,
      log: { write: (c, m) => say(m), info: say, error: say }, services: { createArtifact: () => Promise.resolve() },
      nodeName: 'child', containment: JSON.parse(process.env.CONTAINMENT), deadManMs: Number(process.env.DEAD_MAN_MS) });
    process.stdout.write('OUTCOME ' + JSON.stringify(o) + '\\n');`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], {
    env: { ...process.env, BODY: body, CWD: join(workRoot, `script-${++n}`), CONTAINMENT: JSON.stringify(containment), DEAD_MAN_MS: String(deadManMs) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  const outcome = new Promise<string>((resolve) => child.once('exit', () => resolve(/^OUTCOME (.*)$/m.exec(out)?.[1] ?? `(no outcome) ${out}`)));
  return { child, outcome };
}

/** Shell that starts a `setsid` daemon and a double-forked one, recording both. */
function daemons(setsidFile: string, forkedFile: string): string {
  return [
    `setsid sleep 300 & ${recordPid(setsidFile)}`,
    // The middle shell exits at once: the daemon is an orphan in a session of its own.
    `( setsid bash -c 'sleep 301 & ${recordPid(forkedFile)}' & )`,
    `while [ ! -f ${forkedFile} ]; do sleep 0.05; done`,
  ].join('\n');
}

const read = (file: string) => readFileSync(file, 'utf8');
const gone = (...files: string[]) => files.every((f) => !recordedRunning(read(f)));
const stoppedState = (pid: number) => /^State:\s+T/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));

describe('script containment', () => {
  it('detects the containment this machine offers by trying it', async () => {
    const c = await detectContainment();
    process.stdout.write(`# containment here: ${c.description}\n`);
    assert.equal(c.kind, namespaces ? 'pid-namespace' : 'process-group');
    if (c.kind === 'process-group') assert.match(c.problem ?? '', /unshare/);
  });

  for (const mode of ['pid-namespace', 'process-group'] as const) {
    describe(`in a ${mode}`, { skip: mode === 'pid-namespace' && !namespaces ? 'this machine offers no PID namespace (unshare)' : false }, () => {
      const containment = async () => mode === 'pid-namespace' ? detectContainment() : PROCESS_GROUP;

      it('logs stdout as Info and stderr as Error, returns the exit code, and passes artifact messages on', async () => {
        const r = await run(await containment(), 'echo out; echo err >&2; echo data > a.txt; new_octopusartifact a.txt kept.txt; write_highlight loud; exit 3');
        assert.deepEqual(r.outcome, { kind: 'failed', message: 'The script exited with code 3.' });
        assert.deepEqual(r.lines.filter((l) => !l.includes('collected')), ['Info: out', 'Error: err', 'Highlight: loud']);
        assert.deepEqual(r.artifacts, ['kept.txt data']);
        const ok = await run(await containment(), 'echo fine');
        assert.deepEqual(ok.outcome, { kind: 'success' });
      });

      it('gives the script its work folder as HOME and removes the folder afterwards', async () => {
        const r = await run(await containment(), 'echo "home=$HOME pwd=$(pwd)"');
        const line = r.lines.find((l) => l.startsWith('Info: home='))!;
        const [home, pwd] = line.replace('Info: home=', '').split(' pwd=');
        assert.equal(home, pwd);
        assert.ok(home!.startsWith(workRoot + '/'), line);
        assert.equal(existsSync(home!), false, 'the work folder is removed after the run');
      });
    });
  }

  describe('in a PID namespace', { skip: namespaces ? false : 'this machine offers no PID namespace (unshare)' }, () => {
    it('shows the script its own processes only, not the node\'s', async () => {
      const r = await run(await detectContainment(), `ps -e -o pid=,comm= | sed 's/^ *//'; test -e /proc/${process.pid}/environ && tr '\\0' '\\n' < /proc/${process.pid}/environ | head -c 0 || true`);
      const procs = r.lines.filter((l) => /^Info: \d+ /.test(l)).map((l) => l.replace(/^Info: \d+ /, ''));
      assert.ok(procs.length <= 4, `only the script's processes: ${procs.join(', ')}`);
      assert.ok(!procs.includes('node'), `the node is not visible: ${procs.join(', ')}`);
      assert.match(r.lines.find((l) => l.startsWith('Info: 1 ')) ?? '', /bash/, 'pid 1 is the script\'s init');
    });

    it('kills a setsid daemon and a double-forked one when the script ends, succeeding or failing', async () => {
      for (const exit of [0, 1]) {
        const [a, b] = [record('setsid'), record('forked')];
        const r = await run(await detectContainment(), `${daemons(a, b)}\nexit ${exit}`);
        assert.equal(r.outcome.kind, exit === 0 ? 'success' : 'failed');
        assert.ok(gone(a, b), 'every process of the script is gone when it ends');
      }
    });

    it('kills them when the script is cancelled, after the script handled its TERM', async () => {
      const [a, b] = [record('setsid'), record('forked')];
      const controller = new AbortController();
      const running = run(await detectContainment(), `trap 'echo got TERM; exit 9' TERM\n${daemons(a, b)}\nsleep 200 & wait`, { signal: controller.signal });
      await waitFor('the daemons', () => existsSync(b) && existsSync(a), 15_000);
      assert.ok(!gone(a, b));
      controller.abort({ kind: 'cancel' });
      const r = await running;
      assert.deepEqual(r.outcome, { kind: 'canceled' });
      assert.ok(r.lines.includes('Info: got TERM'), 'the script got TERM first');
      assert.ok(gone(a, b));
    });

    it('kills them when the script times out', async () => {
      const [a, b] = [record('setsid'), record('forked')];
      const r = await run(await detectContainment(), `trap '' TERM\n${daemons(a, b)}\nsleep 200`, { timeoutMs: 1_000 });
      assert.deepEqual(r.outcome, { kind: 'timedOut', seconds: 1 });
      assert.ok(gone(a, b));
    });

    it('kills them when the node process is killed with SIGKILL', async () => {
      const [main, a, b] = [record('main'), record('setsid'), record('forked')];
      const node = nodeRunning(await detectContainment(), `${recordPid(main, '$$')}\n${daemons(a, b)}\nsleep 300`, 60_000);
      await waitFor('the script and its daemons', () => existsSync(b) && existsSync(a) && existsSync(main), 15_000);
      node.child.kill('SIGKILL');
      await node.outcome;
      await waitFor('every process of the killed node\'s script to be gone', () => gone(main, a, b), 15_000);
    });
  });

  describe('the dead-man\'s switch', () => {
    it('kills the script and everything it started when the node stops renewing it (frozen with SIGSTOP)', async () => {
      const [main, a, b] = [record('main'), record('setsid'), record('forked')];
      const containment = await detectContainment();
      const body = containment.kind === 'pid-namespace' ? `${recordPid(main, '$$')}\n${daemons(a, b)}\nsleep 300` : `${recordPid(main, '$$')}\nsleep 300 & ${recordPid(a)}\ntouch ${b}\nwait`;
      const node = nodeRunning(containment, body, 1_000);
      await waitFor('the script to run', () => existsSync(b) && existsSync(a) && existsSync(main), 15_000);
      // Renewals come every quarter deadline, so a running node keeps the script alive meanwhile.
      await new Promise((r) => setTimeout(r, 2_000));
      assert.ok(recordedRunning(read(main)), 'a renewed script runs past its deadline');
      node.child.kill('SIGSTOP');
      try {
        await waitFor('the frozen node\'s script to be killed', () => gone(...(containment.kind === 'pid-namespace' ? [main, a, b] : [main, a])), 15_000);
        // Nothing in the node ran meanwhile: the watchdog alone acted.
        assert.ok(stoppedState(node.child.pid!), 'the node is still stopped');
      } finally {
        node.child.kill('SIGCONT');
      }
      assert.match(await node.outcome, /"kind":"failed".*killed \(SIGKILL\).*does not renew it within 1000 ms/);
    });
  });

  describe('as a worker user', { skip: worker ? false : 'needs root to create and switch to an OS user' }, () => {
    for (const mode of ['pid-namespace', 'process-group'] as const) {
      it(`runs the script as that user, in its own 0700 folder, unable to read the node's environment (${mode})`, { skip: mode === 'pid-namespace' && !namespaces ? 'no PID namespace here' : false }, async () => {
        const containment = mode === 'pid-namespace' ? await detectContainment() : PROCESS_GROUP;
        const marker = `CUTTLE_TEST_MARKER_${Date.now()}`;
        process.env[marker] = 'secret';
        try {
          const r = await run(containment, [
            'echo "uid=$(id -u) gid=$(id -g) groups=$(id -G) user=$USER"',
            'echo "folder=$(stat -c "%u %a" .)"',
            `cat /proc/${process.pid}/environ >/dev/null 2>&1 && echo "environ: readable" || echo "environ: refused"`,
            `cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n' | grep -c ${marker} || true`,
          ].join('\n'), { user: worker! });
          assert.deepEqual(r.outcome, { kind: 'success' }, r.lines.join('\n'));
          assert.ok(r.lines.includes(`Info: uid=${worker!.uid} gid=${worker!.gid} groups=${worker!.gid} user=${worker!.name}`), r.lines.join('\n'));
          assert.ok(r.lines.includes(`Info: folder=${worker!.uid} 700`), r.lines.join('\n'));
          assert.ok(r.lines.includes('Info: environ: refused'), r.lines.join('\n'));
          assert.ok(r.lines.includes('Info: 0'), `no process environment the script can read holds the node's: ${r.lines.join('\n')}`);
        } finally {
          Reflect.deleteProperty(process.env, marker);
        }
      });
    }

    it('removes what the script left in its folder as that user: read-only folders too, links not followed', async () => {
      const cwd = join(workRoot, `script-${++n}`);
      const { log } = collectingLog();
      const outcome = await runScript({
        body: 'mkdir -p deep/er && touch deep/er/file && chmod 500 deep/er && ln -s /etc/passwd link',
        syntax: 'Bash', cwd, signal: new AbortController().signal, log, nodeName: 'test', user: worker!, containment: PROCESS_GROUP,
        services: { createArtifact: () => Promise.resolve() },
      });
      assert.deepEqual(outcome, { kind: 'success' });
      assert.equal(existsSync(cwd), false, 'the script\'s folder is gone, a read-only folder in it too');
      assert.ok(existsSync('/etc/passwd'), 'a link in it was removed, not followed');
    });

    it('does not create a missing work folder root again (it would be the script user\'s)', async () => {
      await assert.rejects(run(PROCESS_GROUP, 'true', { cwd: join(workRoot, `missing-${++n}`, 'script'), user: worker! }),
        /^Error: The work folder .*missing-\d+ of node test is missing; restart the node to create it again\.$/);
    });
  });
});
