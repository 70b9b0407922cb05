import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, chown, mkdir, writeFile } from 'node:fs/promises';
import { delimiter, dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { errorMessage } from '../errors.js';
import { PROCESS_GROUP, type Containment } from './containment.js';
import type { LogBlock } from './log.js';
import { removeWorkFolder } from './workFolder.js';
import type { Outcome, StopReason } from './types.js';

/** What a script asks of the server through service messages on stdout (Octopus's `##octopus[...]`). */
export interface ScriptServices {
  /** `path` is the file the script named, resolved against its working folder. */
  createArtifact(path: string, name: string): Promise<void>;
}

export type ScriptSyntax = 'Bash' | 'PowerShell';
export const SCRIPT_SYNTAXES: readonly ScriptSyntax[] = ['Bash', 'PowerShell'];

/** One script run: per call, not per task, so a multi-step task runs many with different settings. */
export interface ScriptOptions {
  readonly body: string;
  readonly syntax: ScriptSyntax;
  /** Added to the node's environment, which never carries Cuttle's own CUTTLE_* settings. */
  readonly env?: Readonly<Record<string, string>>;
  /** The script's work folder (and its HOME): created for the run, owned by `user`, removed after it. */
  readonly cwd: string;
  /** This script's own limit (a step timeout); the task's limit arrives through `signal`. */
  readonly timeoutMs?: number;
  /** Cancel, timeout and loss of ownership; its reason is a StopReason. */
  readonly signal: AbortSignal;
  /** The OS account the script runs as (the built-in worker's user); the node's own when absent. */
  readonly user?: ScriptUser;
  /** How the script's processes are held together (detected at node start); a process group when absent. */
  readonly containment?: Containment;
  /**
   * The dead-man's switch: the node renews the script's watchdog about four times in this period;
   * a watchdog that hears nothing for this long (the node frozen, stopped or dead) kills the script
   * and everything it started, without the node's help. Default 5000.
   */
  readonly deadManMs?: number;
  readonly log: LogBlock;
  readonly services: ScriptServices;
  /**
   * An output variable the script set (`set_octopusvariable name value [-sensitive]`), heard before
   * any later line of the script is logged, so a sensitive one is masked from then on.
   */
  readonly onVariable?: (name: string, value: string, sensitive: boolean) => void;
  /** Named in errors (which node lacks PowerShell). */
  readonly nodeName: string;
}

/** A user to switch to (supplementary groups are dropped); `name` becomes USER and LOGNAME. */
export interface ScriptUser { readonly uid: number; readonly gid: number; readonly name?: string }

const GRACE_MS = 3_000;
export const DEFAULT_DEAD_MAN_MS = 5_000;
/** Longer output lines are cut into pieces: a script printing without newlines cannot fill the node's memory. */
const MAX_LINE = 16 * 1024;

// Helpers every script gets, after Octopus's names. Paths and names travel base64-encoded.
const BASH_PREAMBLE = `
new_octopusartifact() {
  local path="$1"; local name="\${2:-}"
  if [ ! -f "$path" ]; then echo "new_octopusartifact: $path is not a file" >&2; return 1; fi
  path=$(realpath "$path"); [ -n "$name" ] || name=$(basename "$path")
  echo "##octopus[createArtifact path='$(printf %s "$path" | base64 -w0)' name='$(printf %s "$name" | base64 -w0)']"
}
write_highlight() { echo "##octopus[writeLog category='SGlnaGxpZ2h0' message='$(printf %s "$*" | base64 -w0)']"; }
write_warning() { echo "##octopus[writeLog category='V2FybmluZw==' message='$(printf %s "$*" | base64 -w0)']"; }
write_verbose() { echo "##octopus[writeLog category='VmVyYm9zZQ==' message='$(printf %s "$*" | base64 -w0)']"; }
set_octopusvariable() {
  local sensitive=""; [ "\${3:-}" = "-sensitive" ] && sensitive=" sensitive='$(printf True | base64 -w0)'"
  echo "##octopus[setVariable name='$(printf %s "$1" | base64 -w0)' value='$(printf %s "\${2:-}" | base64 -w0)'$sensitive]"
}
get_octopusvariable() { printenv "$1"; }
`;

const POWERSHELL_PREAMBLE = `
function Convert-ToOctopusBase64([string]$s) { [Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes($s)) }
function New-OctopusArtifact([string]$Path, [string]$Name) {
  if (-not (Test-Path -LiteralPath $Path -PathType Leaf)) { Write-Error "New-OctopusArtifact: $Path is not a file"; return }
  $full = (Resolve-Path -LiteralPath $Path).Path
  if (-not $Name) { $Name = Split-Path -Leaf $full }
  Write-Host "##octopus[createArtifact path='$(Convert-ToOctopusBase64 $full)' name='$(Convert-ToOctopusBase64 $Name)']"
}
# Octopus's variable dictionary: every variable of the deployment is also in the environment.
$OctopusParameters = @{}
Get-ChildItem env: | ForEach-Object { $OctopusParameters[$_.Name] = $_.Value }
function Set-OctopusVariable([string]$Name, [string]$Value, [switch]$Sensitive) {
  $s = if ($Sensitive) { " sensitive='$(Convert-ToOctopusBase64 'True')'" } else { '' }
  Write-Host "##octopus[setVariable name='$(Convert-ToOctopusBase64 $Name)' value='$(Convert-ToOctopusBase64 $Value)'$s]"
}
function Write-Highlight([string]$Message) { Write-Host "##octopus[writeLog category='SGlnaGxpZ2h0' message='$(Convert-ToOctopusBase64 $Message)']" }
$ErrorActionPreference = 'Stop'
`;

// The wrapper leads the script's process group and runs as the node's user. Beside the script it
// runs a watchdog — the dead-man's switch — reading the node's renewals from its stdin, a pipe from
// the node: when no line arrives within the deadline (the node is frozen: SIGSTOP, a paused VM) or
// the pipe closes (the node died, even by SIGKILL, or the script ended), it kills the whole group,
// which includes the namespace's parent, so the kernel then kills everything in the namespace. The
// watchdog ignores the TERM a cancel sends the group, and a script running as another user cannot
// signal it. The wrapper only notes TERM (its child gets it too) so the grace period is the script's.
const WRAPPER = `exec 3<&0 </dev/null
deadline=$1; shift
( trap '' TERM INT HUP
  while read -r -t "$deadline" _ <&3; do :; done
  kill -KILL 0 ) >/dev/null 2>&1 &
trap 'signalled=1' TERM INT HUP
"$@" 3<&- &
child=$!
while :; do signalled=; wait "$child"; rc=$?; [ -n "$signalled" ] || break; done
exit "$rc"
`;

// The init (pid 1) of a script's PID namespace, still the node's user: it runs the script and exits
// with its code, and when it exits the kernel kills every process left in the namespace. It sets no
// TERM handler, so a cancel's TERM (which pid 1 would then not receive) reaches only the script.
const INIT = '"$@" & wait $!';

/** The command line that switches to `user` (real and effective ids, no supplementary groups). */
function switchUser(user: ScriptUser): string[] {
  // no_new_privs: a setuid or setgid helper (crontab, at, sudo) gains nothing, so no job it
  // would schedule outside the namespace can outlive the task.
  return ['setpriv', `--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', '--no-new-privs', '--'];
}

function decode(b64: string): string {
  return Buffer.from(b64, 'base64').toString('utf8');
}

function attr(msg: string, name: string): string | undefined {
  const m = new RegExp(`${name}='([^']*)'`).exec(msg);
  return m ? m[1] : undefined;
}

/** What a script gets of the node's environment: how to find programs and speak the locale. */
const PASSED_ON = /^(PATH|LANG|LANGUAGE|LC_[A-Z_]+|TZ|TERM)$/;

/**
 * The few variables of the node's environment a script needs, and nothing else: the node's
 * environment carries secrets (a container's CUTTLE_MASTER_KEY, CUTTLE_DATABASE_URL with its
 * password, PGPASSWORD, cloud credentials) that must never reach a script.
 */
export function scriptEnvironment(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([k]) => PASSED_ON.test(k)));
}

/** The first `name` executable on the PATH, if any. */
export async function onPath(name: string, path = process.env.PATH ?? ''): Promise<string | undefined> {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (await access(candidate, constants.X_OK).then(() => true, () => false)) return candidate;
  }
  return undefined;
}

/** Calls `onLine` for every line of a stream (long lines in pieces); resolves when the stream ends. */
function eachLine(stream: Readable, onLine: (line: string) => void): Promise<void> {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  const take = (text: string) => {
    const buf = pending + text;
    let start = 0;
    let nl: number;
    while ((nl = buf.indexOf('\n', start)) >= 0) {
      onLine(buf.slice(start, buf.charCodeAt(nl - 1) === 13 && nl > start ? nl - 1 : nl));
      start = nl + 1;
    }
    pending = buf.slice(start);
    while (pending.length > MAX_LINE) {
      onLine(pending.slice(0, MAX_LINE));
      pending = pending.slice(MAX_LINE);
    }
  };
  stream.on('data', (d: Buffer) => take(decoder.write(d)));
  return new Promise((resolve) => {
    const finish = () => { take(decoder.end()); if (pending) onLine(pending); pending = ''; resolve(); };
    stream.once('end', finish);
    stream.once('error', finish);
  });
}

/**
 * Runs one script in its own process group, logging stdout as Info and stderr as Error into
 * `log`, and returns how it ended. Stopping follows the signal's reason: cancel and timeout send
 * TERM to the whole group and KILL after a grace period; loss of ownership KILLs at once.
 */
export async function runScript(o: ScriptOptions): Promise<Outcome> {
  let interpreter: string[];
  if (o.syntax === 'PowerShell') {
    const pwsh = await onPath('pwsh');
    if (!pwsh) return { kind: 'failed', message: `PowerShell scripts need pwsh (PowerShell 7) on the PATH of node ${o.nodeName}, and it is not there; install PowerShell on that node or write the script in Bash.` };
    interpreter = [pwsh, '-NoLogo', '-NoProfile', '-NonInteractive', '-File'];
  } else {
    interpreter = ['bash'];
  }
  if (o.signal.aborted) return stoppedOutcome(o.signal.reason as StopReason);
  // Not recursive: a root that vanished (a temp cleaner) must not come back as the script user's.
  await mkdir(o.cwd, { mode: 0o700 }).catch((e: NodeJS.ErrnoException) => {
    throw new Error(e.code === 'ENOENT' ? `The work folder ${dirname(o.cwd)} of node ${o.nodeName} is missing; restart the node to create it again.` : `Cannot create the script's work folder ${o.cwd} (${e.message}).`, { cause: e });
  });
  const scriptPath = join(o.cwd, o.syntax === 'PowerShell' ? 'script.ps1' : 'script.sh');
  await writeFile(scriptPath, (o.syntax === 'PowerShell' ? POWERSHELL_PREAMBLE : BASH_PREAMBLE) + '\n' + o.body + '\n', { mode: 0o700, flag: 'wx' });
  // The folder becomes the script user's only once the node has written in it: nothing it planted can redirect that write.
  if (o.user) {
    await chown(scriptPath, o.user.uid, o.user.gid);
    await chown(o.cwd, o.user.uid, o.user.gid);
  }

  const deadManMs = o.deadManMs ?? DEFAULT_DEAD_MAN_MS;
  const containment = o.containment ?? PROCESS_GROUP;
  const script = [...(o.user ? switchUser(o.user) : []), ...interpreter, scriptPath];
  const contained = containment.kind === 'pid-namespace' ? [...containment.command, 'bash', '-c', INIT, 'cuttle-init', ...script] : script;
  const child = spawn('bash', ['-c', WRAPPER, 'cuttle-script', (deadManMs / 1000).toFixed(3), ...contained], {
    cwd: o.cwd,
    detached: true, // its own process group, so the whole tree can be signalled
    stdio: ['pipe', 'pipe', 'pipe'],
    env: {
      ...scriptEnvironment(), ...o.env,
      // Never the node's home: a script's HOME is its own work folder.
      HOME: o.cwd,
      ...(o.user?.name ? { USER: o.user.name, LOGNAME: o.user.name } : {}),
    },
  });
  child.stdin.on('error', () => undefined);
  // Renewals for the watchdog: from a timer of this process, so a frozen node renews nothing.
  const renew = setInterval(() => { if (child.stdin.writable) child.stdin.write('\n'); }, Math.max(10, Math.floor(deadManMs / 4)));
  const pgid = child.pid;
  let stopped: StopReason | undefined;
  let killTimer: NodeJS.Timeout | undefined;
  const signalGroup = (sig: NodeJS.Signals) => { if (pgid) { try { process.kill(-pgid, sig); } catch { /* already gone */ } } };
  const stop = (why: StopReason) => {
    if (stopped) { if (why.kind === 'abort') signalGroup('SIGKILL'); return; }
    stopped = why;
    if (why.kind === 'abort') { signalGroup('SIGKILL'); return; }
    signalGroup('SIGTERM');
    killTimer = setTimeout(() => signalGroup('SIGKILL'), GRACE_MS);
    killTimer.unref();
  };
  const onAbort = () => stop(o.signal.reason as StopReason);
  o.signal.addEventListener('abort', onAbort, { once: true });
  // Aborted while the folder was being prepared: the listener came too late to hear it.
  if (o.signal.aborted) onAbort();
  const timeout = o.timeoutMs ? setTimeout(() => stop({ kind: 'timeout', seconds: Math.round(o.timeoutMs! / 1000) }), o.timeoutMs) : undefined;

  const pending: Promise<void>[] = [];
  const serviceFailures: string[] = [];
  const onStdout = (line: string) => {
    if (line.startsWith('##octopus[createArtifact')) {
      const path = attr(line, 'path');
      const name = attr(line, 'name');
      if (path && name) {
        pending.push(o.services.createArtifact(decode(path), decode(name)).then(
          () => o.log.info(`Artifact ${decode(name)} collected`),
          (err) => { serviceFailures.push(errorMessage(err)); return o.log.error(`Could not collect artifact ${decode(name)}: ${errorMessage(err)}`); }));
        return;
      }
    } else if (line.startsWith('##octopus[setVariable')) {
      const name = attr(line, 'name');
      if (name !== undefined) {
        o.onVariable?.(decode(name), decode(attr(line, 'value') ?? ''), decode(attr(line, 'sensitive') ?? '').toLowerCase() === 'true');
        return;
      }
    } else if (line.startsWith('##octopus[writeLog')) {
      const cat = decode(attr(line, 'category') ?? '');
      const msg = decode(attr(line, 'message') ?? '');
      if (cat === 'Highlight' || cat === 'Warning' || cat === 'Verbose') { void o.log.write(cat, msg); return; }
    }
    void o.log.info(line);
  };
  const streamsClosed = Promise.all([eachLine(child.stdout, onStdout), eachLine(child.stderr, (line) => void o.log.error(line))]);

  const { code, signal } = await new Promise<{ code: number; signal?: NodeJS.Signals }>((resolve) => {
    child.once('exit', (c, sig) => resolve(c === null && sig ? { code: 128, signal: sig } : { code: c ?? 1 }));
    child.once('error', () => resolve({ code: 127 }));
  });
  // Closing the pipe makes the watchdog kill whatever the script left running in its group; the
  // SIGKILL makes sure of it (a process that ignores TERM must not outlive its task).
  clearInterval(renew);
  child.stdin.end();
  signalGroup('SIGKILL');
  o.signal.removeEventListener('abort', onAbort);
  await Promise.race([streamsClosed, new Promise((r) => setTimeout(r, 5_000).unref())]);
  if (timeout) clearTimeout(timeout);
  if (killTimer) clearTimeout(killTimer);
  await Promise.all(pending);
  await removeWorkFolder(o.cwd, o.user);
  if (stopped) return stoppedOutcome(stopped);
  // The wrapper itself killed: mostly by its watchdog, when this node stopped renewing it (frozen).
  if (signal) return { kind: 'failed', message: `The script was killed (${signal}): its watchdog kills it when node ${o.nodeName} does not renew it within ${deadManMs} ms, unless another process did.` };
  if (code !== 0) return { kind: 'failed', message: `The script exited with code ${code}.` };
  if (serviceFailures.length) return { kind: 'failed', message: serviceFailures[0]! };
  return { kind: 'success' };
}

export function stoppedOutcome(r: StopReason): Outcome {
  switch (r.kind) {
    case 'cancel':
    case 'abort': return { kind: 'canceled' };
    case 'timeout': return { kind: 'timedOut', seconds: r.seconds };
    case 'failure': return { kind: 'failed', message: r.message };
  }
}
