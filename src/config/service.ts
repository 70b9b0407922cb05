// The systemd unit that runs one node as a service under its own account, as the Octopus HA guide
// asks (a custom service account with access to the shared database and storage). Pure: the unit's
// text from what it needs; `cuttle service` gathers that and installs it.

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
  /** The node's shutdown grace (CUTTLE_SHUTDOWN_GRACE_SECONDS): the stop timeout leaves room beyond it. */
  readonly shutdownGraceMs: number;
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
 * One word of a unit file, double-quoted: backslash and quote escaped, `%` doubled (systemd's
 * specifiers) and, where the line is a command, `$` doubled (its variable expansion).
 */
export function quoteWord(s: string, command = false): string {
  let q = s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/%/g, '%%');
  if (command) q = q.replace(/\$/g, '$$$$');
  return `"${q}"`;
}

export function serviceUnit(i: ServiceUnitInput): string {
  const rw = [...new Set(i.writable)].map((p) => quoteWord(p));
  return `# Written by \`cuttle service --install\` for node ${i.nodeName} (home ${i.home}); \`cuttle service --uninstall\` removes it.
[Unit]
Description=Cuttle node ${i.nodeName}
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
User=${i.user}
Group=${i.group}
Environment=${quoteWord(`CUTTLE_HOME=${i.home}`)}
ExecStart=${quoteWord(i.execPath, true)} ${quoteWord(i.binPath, true)} run --home ${quoteWord(i.home, true)}
Restart=on-failure
RestartSec=5
# A clean stop: SIGTERM, the node drains its tasks within its grace and hands back the rest.
KillSignal=SIGTERM
TimeoutStopSec=${stopTimeoutSeconds(i.shutdownGraceMs)}
LimitNOFILE=65536
# Hardening: no privilege gains, the file system read-only but for the home and shared storage.
NoNewPrivileges=yes
ProtectSystem=strict
ReadWritePaths=${rw.join(' ')}
PrivateTmp=yes

[Install]
WantedBy=multi-user.target
`;
}
