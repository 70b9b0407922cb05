import { spawn } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { errorMessage } from '../errors.js';
import type { TaskLogWriter } from './log.js';
import type { Outcome, TaskRow } from './types.js';

/** What a script asks of the server through service messages on stdout (Octopus's `##octopus[...]`). */
export interface ScriptServices {
  createArtifact(path: string, name: string): Promise<void>;
}

export interface RunControl {
  /** TERM the process tree, KILL it after the grace period. */
  cancel(): void;
  /** KILL the process tree at once: the node no longer owns the task. */
  abort(): void;
}

const GRACE_MS = 3_000;

// Bash helpers every script gets, after Octopus's names.
const PREAMBLE = `
new_octopusartifact() {
  local path="$1"; local name="\${2:-}"
  if [ ! -f "$path" ]; then echo "new_octopusartifact: $path is not a file" >&2; return 1; fi
  path=$(realpath "$path"); [ -n "$name" ] || name=$(basename "$path")
  echo "##octopus[createArtifact path='$(printf %s "$path" | base64 -w0)' name='$(printf %s "$name" | base64 -w0)']"
}
write_highlight() { echo "##octopus[writeLog category='SGlnaGxpZ2h0' message='$(printf %s "$*" | base64 -w0)']"; }
write_warning() { echo "##octopus[writeLog category='V2FybmluZw==' message='$(printf %s "$*" | base64 -w0)']"; }
write_verbose() { echo "##octopus[writeLog category='VmVyYm9zZQ==' message='$(printf %s "$*" | base64 -w0)']"; }
`;

// The wrapper leads the task's process group. It runs the script in the background and watches
// its own stdin, a pipe from the node: when the node dies (even by SIGKILL) the pipe closes, the
// read returns, and the whole group is killed — no orphaned script runs beside a re-run.
const WRAPPER = `exec 3<&0
( trap '' TERM INT HUP; read -r _ <&3; kill -KILL -$$ ) >/dev/null 2>&1 &
bash "$1" </dev/null &
child=$!
wait "$child"
`;

function decode(b64: string): string {
  return Buffer.from(b64, 'base64').toString('utf8');
}

function attr(msg: string, name: string): string | undefined {
  const m = new RegExp(`${name}='([^']*)'`).exec(msg);
  return m ? m[1] : undefined;
}

/**
 * The node's environment minus Cuttle's own settings: a container's CUTTLE_MASTER_KEY,
 * CUTTLE_DATABASE_URL (with its password) and CUTTLE_ADMIN_PASSWORD must never reach a script.
 */
export function scriptEnvironment(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith('CUTTLE_')));
}

export interface ScriptRun {
  readonly control: RunControl;
  readonly done: Promise<Outcome>;
}

/** Runs a Bash script in its own process group, logging stdout as Info and stderr as Error. */
export async function runBashScript(task: TaskRow, workDir: string, script: string, log: TaskLogWriter, services: ScriptServices): Promise<ScriptRun> {
  await mkdir(workDir, { recursive: true });
  const scriptPath = join(workDir, 'script.sh');
  const wrapperPath = join(workDir, '.wrapper.sh');
  await writeFile(scriptPath, PREAMBLE + '\n' + script + '\n', { mode: 0o700 });
  await writeFile(wrapperPath, WRAPPER, { mode: 0o700 });

  const child = spawn('bash', [wrapperPath, scriptPath], {
    cwd: workDir,
    detached: true, // its own process group, so the whole tree can be signalled
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...scriptEnvironment(), OctopusTaskId: task.id, CUTTLE_TASK_ID: task.id, CUTTLE_SERVER_NODE: (task.serverNode ?? '').replace(/^OctopusServerNodes-/, '') },
  });
  const pgid = child.pid!;
  let reason: 'cancel' | 'timeout' | 'abort' | undefined;
  let killTimer: NodeJS.Timeout | undefined;
  const signalGroup = (sig: NodeJS.Signals) => { try { process.kill(-pgid, sig); } catch { /* already gone */ } };
  const stopTree = (why: 'cancel' | 'timeout' | 'abort') => {
    if (reason) { if (why === 'abort') signalGroup('SIGKILL'); return; }
    reason = why;
    if (why === 'abort') { signalGroup('SIGKILL'); return; }
    signalGroup('SIGTERM');
    killTimer = setTimeout(() => signalGroup('SIGKILL'), GRACE_MS);
    killTimer.unref();
  };

  const pending: Promise<void>[] = [];
  const serviceFailures: string[] = [];
  const onStdout = (line: string) => {
    if (line.startsWith('##octopus[')) {
      if (line.startsWith('##octopus[createArtifact')) {
        const path = attr(line, 'path');
        const name = attr(line, 'name');
        if (path && name) {
          pending.push(services.createArtifact(decode(path), decode(name)).then(
            () => log.write('Info', `Artifact ${decode(name)} collected`).then(() => undefined),
            (err) => { serviceFailures.push(errorMessage(err)); return log.write('Error', `Could not collect artifact ${decode(name)}: ${errorMessage(err)}`).then(() => undefined); }));
          return;
        }
      } else if (line.startsWith('##octopus[writeLog')) {
        const cat = decode(attr(line, 'category') ?? '');
        const msg = decode(attr(line, 'message') ?? '');
        if (cat === 'Highlight' || cat === 'Warning' || cat === 'Verbose') { void log.write(cat, msg); return; }
      }
    }
    void log.write('Info', line);
  };
  const out = createInterface({ input: child.stdout! });
  const err = createInterface({ input: child.stderr! });
  out.on('line', onStdout);
  err.on('line', (line) => void log.write('Error', line));
  const streamsClosed = Promise.all([new Promise((r) => out.once('close', r)), new Promise((r) => err.once('close', r))]);

  const timeoutSeconds = task.timeoutSeconds;
  const timeout = timeoutSeconds ? setTimeout(() => stopTree('timeout'), timeoutSeconds * 1000) : undefined;

  const done = (async (): Promise<Outcome> => {
    const code = await new Promise<number | null>((resolve) => {
      child.once('exit', (c, sig) => resolve(c ?? (sig ? 128 : 1)));
      child.once('error', () => resolve(127));
    });
    // Closing the pipe makes the watchdog kill whatever the script left running in its group; the
    // SIGKILL makes sure of it (a process that ignores TERM must not outlive its task).
    child.stdin!.end();
    signalGroup('SIGKILL');
    await Promise.race([streamsClosed, new Promise((r) => setTimeout(r, 5_000).unref())]);
    if (timeout) clearTimeout(timeout);
    if (killTimer) clearTimeout(killTimer);
    await Promise.all(pending);
    await rm(workDir, { recursive: true, force: true }).catch(() => undefined);
    if (reason === 'timeout') return { kind: 'timedOut', seconds: timeoutSeconds ?? 0 };
    if (reason === 'cancel' || reason === 'abort') return { kind: 'canceled' };
    if (code !== 0) return { kind: 'failed', message: `The script exited with code ${code}.` };
    if (serviceFailures.length) return { kind: 'failed', message: serviceFailures[0]! };
    return { kind: 'success' };
  })();
  child.stdin!.on('error', () => undefined);
  return { control: { cancel: () => stopTree('cancel'), abort: () => stopTree('abort') }, done };
}
