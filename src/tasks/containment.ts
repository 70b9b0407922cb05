import { execFile } from 'node:child_process';

/**
 * How a script's processes are held together so that none outlives its task.
 * - `pid-namespace`: each script is the only child of the init of a PID namespace of its own
 *   (util-linux `unshare`), with its own /proc. When the script's main process ends, or the
 *   namespace's parent dies, the kernel kills every process in the namespace — `setsid`, double
 *   forks and new process groups included — and the script sees no process of the node or of
 *   another task.
 * - `process-group`: the fallback. The script leads a process group that is killed as a whole;
 *   a process that leaves the group (setsid) escapes it.
 */
export type ContainmentKind = 'pid-namespace' | 'process-group';

export interface Containment {
  readonly kind: ContainmentKind;
  /** The command line the script's init runs under (empty for a process group). */
  readonly command: readonly string[];
  /** One line for the node's log and for doctor. */
  readonly description: string;
  /** Why no namespace could be used (process-group only). */
  readonly problem?: string;
}

export const PROCESS_GROUP: Containment = Object.freeze({
  kind: 'process-group',
  command: [],
  description: 'a process group per script (a process that calls setsid can outlive its task)',
});

const NAMESPACE = ['--pid', '--fork', '--kill-child', '--mount-proc'];

/** The candidates, best first: a root node needs nothing more; any other needs a user namespace. */
function candidates(isRoot: boolean): { readonly command: string[]; readonly description: string }[] {
  const root = { command: ['unshare', ...NAMESPACE, '--'], description: 'a PID namespace per script (unshare --pid --fork --kill-child --mount-proc)' };
  const user = { command: ['unshare', '--user', '--map-current-user', ...NAMESPACE, '--'], description: 'a PID namespace per script inside a user namespace (unshare --user --map-current-user --pid --fork --kill-child --mount-proc)' };
  return isRoot ? [root] : [user];
}

function attempt(argv: readonly string[]): Promise<string | undefined> {
  return new Promise((resolve) => {
    const [cmd, ...args] = argv as [string, ...string[]];
    execFile(cmd, args, { timeout: 10_000 }, (err, _stdout, stderr) => {
      if (!err) { resolve(undefined); return; }
      const code = (err as NodeJS.ErrnoException).code;
      resolve(code === 'ENOENT' ? `${cmd} is not installed (util-linux)` : (stderr.trim().split('\n').pop() || err.message));
    });
  });
}

/**
 * Finds the best containment this machine offers by actually starting one namespace per candidate
 * (a kernel, a container runtime or a seccomp profile may refuse what the binary offers).
 */
export async function detectContainment(isRoot = process.getuid?.() === 0): Promise<Containment> {
  const problems: string[] = [];
  for (const c of candidates(isRoot)) {
    const problem = await attempt([...c.command, 'true']);
    if (!problem) return Object.freeze({ kind: 'pid-namespace', command: Object.freeze([...c.command]), description: c.description });
    problems.push(`${c.command.join(' ')} true failed: ${problem}`);
  }
  return Object.freeze({ ...PROCESS_GROUP, problem: problems.join('; ') });
}

/** The sentence a node logs (and doctor prints) when scripts are not contained. */
export function containmentWarning(c: Containment): string | undefined {
  if (c.kind !== 'process-group') return undefined;
  return `no containment for scripts is available (${c.problem ?? 'not detected'}): a script that daemonises with setsid can outlive its task; run the node as root (or allow unprivileged user namespaces) with util-linux's unshare installed`;
}
