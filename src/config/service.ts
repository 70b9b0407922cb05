// The systemd unit that runs one node as a service under its own account, as the Octopus HA guide
// asks (a custom service account with access to the shared database and storage). Pure: the unit's
// text from what it needs; `cuttle service` gathers that and installs it.
import { EnvironmentError } from '../errors.js';

export interface ServiceUnitInput {
  readonly nodeName: string;
  readonly home: string;
  /** The service account, and its primary group. */
  readonly user: string;
  readonly group: string;
  /** Absolute paths of node and of Cuttle's bin/cuttle.js. */
  readonly execPath: string;
  readonly binPath: string;
  /** Folders the node must write (the home, every shared folder, its scripts' work folder); they must exist. */
  readonly writable: readonly string[];
  /** Folders whose mounts (a network share) must be up before the node starts: the home and shared storage. */
  readonly mounts?: readonly string[];
  /** The node's shutdown grace (CUTTLE_SHUTDOWN_GRACE_SECONDS): the stop timeout leaves room beyond it. */
  readonly shutdownGraceMs: number;
  /** The port the node listens on: below 1024 a non-root account needs CAP_NET_BIND_SERVICE. */
  readonly listenPort?: number;
}

/** systemd's unit name for this node: cuttle-<node name>.service (node names are already [A-Za-z0-9._-]). */
export function serviceName(nodeName: string): string {
  return `cuttle-${nodeName.replace(/[^A-Za-z0-9._-]/g, '_')}.service`;
}

/** Seconds systemd waits after SIGTERM before SIGKILL: the grace, plus time to hand tasks back and close. */
export function stopTimeoutSeconds(shutdownGraceMs: number): number {
  return Math.ceil(shutdownGraceMs / 1000) + 30;
}

/**
 * What a node running as root uses of root's powers, and nothing more: switching to the built-in
 * worker's user (SETUID, SETGID; setpriv), signalling its scripts (KILL), handing them their work
 * folder (CHOWN, FOWNER), reading what they leave (DAC_OVERRIDE, DAC_READ_SEARCH), a PID and mount
 * namespace per script (SYS_ADMIN; unshare --pid --mount-proc) and a port below 1024.
 */
export const ROOT_CAPABILITIES = Object.freeze([
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_KILL',
  'CAP_SETUID', 'CAP_SETGID', 'CAP_SYS_ADMIN', 'CAP_NET_BIND_SERVICE',
]);

/**
 * One word of a unit file, double-quoted: backslash and quote escaped, `%` doubled (systemd's
 * specifiers) and, where the line is a command, `$` doubled (its variable expansion).
 */
export function quoteWord(s: string, command = false): string {
  // A line break would end the setting: no quoting helps, so such a path is refused.
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(s)) throw new EnvironmentError(`"${s}" holds a control character, which a systemd unit cannot hold; use a path without one.`);
  let q = s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/%/g, '%%');
  if (command) q = q.replace(/\$/g, '$$$$');
  return `"${q}"`;
}

/** The capability lines: root keeps only what the node uses; another account gets none (a low port aside). */
function capabilityLines(i: ServiceUnitInput): string {
  if (i.user === 'root') {
    return `# Root, for the built-in worker's own OS user: only the powers the node uses.
CapabilityBoundingSet=${ROOT_CAPABILITIES.join(' ')}`;
  }
  if (i.listenPort !== undefined && i.listenPort < 1024) {
    return `# Port ${i.listenPort} is below 1024: the one power this account is given.
CapabilityBoundingSet=CAP_NET_BIND_SERVICE
AmbientCapabilities=CAP_NET_BIND_SERVICE`;
  }
  return `# No capabilities: scripts are contained in an unprivileged user namespace, which needs none.
CapabilityBoundingSet=`;
}

export function serviceUnit(i: ServiceUnitInput): string {
  const rw = [...new Set(i.writable)].map((p) => quoteWord(p));
  const mounts = [...new Set(i.mounts ?? [])].map((p) => quoteWord(p));
  return `# Written by \`cuttle service --install\` for node ${i.nodeName} (home ${i.home}); \`cuttle service --uninstall\` removes it.
# Run \`cuttle service --install\` again after \`cuttle path\` moves shared storage: only the folders below are writable.
[Unit]
Description=Cuttle node ${i.nodeName}
Wants=network-online.target
After=network-online.target remote-fs.target
${mounts.length ? `RequiresMountsFor=${mounts.join(' ')}\n` : ''}
[Service]
Type=simple
User=${i.user}
Group=${i.group}
Environment=${quoteWord(`CUTTLE_HOME=${i.home}`)}
ExecStart=${quoteWord(i.execPath, true)} ${quoteWord(i.binPath, true)} run --home ${quoteWord(i.home, true)}
Restart=on-failure
RestartSec=5
# A clean stop: SIGTERM to the node alone (not to its scripts), which drains its tasks within its
# grace and hands back the rest; what is left once it has exited (or after TimeoutStopSec) is killed.
KillMode=mixed
KillSignal=SIGTERM
TimeoutStopSec=${stopTimeoutSeconds(i.shutdownGraceMs)}
LimitNOFILE=65536
# Hardening: no privilege gains, the file system read-only but for the home, shared storage and the
# scripts' work folder, a /tmp of its own.
NoNewPrivileges=yes
ProtectSystem=strict
ReadWritePaths=${rw.join(' ')}
PrivateTmp=yes
${capabilityLines(i)}

[Install]
WantedBy=multi-user.target
`;
}
