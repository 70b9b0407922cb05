import { createInterface } from 'node:readline/promises';
import { Writable } from 'node:stream';
import { defaultNodeName } from '../../config/home.js';
import { UsageError, errorMessage } from '../../errors.js';
import type { JoinInput, SetupInput, SetupResult } from '../bootstrap.js';
import { stdio } from '../shared.js';
import { printNextSteps } from './nextSteps.js';

interface Actions {
  setup(i: SetupInput): Promise<SetupResult>;
  join(i: JoinInput): Promise<void>;
  /** Installs and starts the node's service; returns what it did, line by line. */
  installService(i: { home: string; user: string; createUser: boolean; start: boolean; printUnit: boolean }): Promise<string[]>;
}

/**
 * The interactive set-up, mirroring Octopus's Getting Started wizard: create a new cluster, or
 * add this server as a node of an existing one (database first, then the master key).
 */
export async function runWizard(home: string, actions: Actions): Promise<void> {
  // Output goes through a gate so that what is typed for a secret (password, master key) is not echoed.
  let muted = false;
  const output = new Writable({ write: (chunk: Buffer, _enc, done) => { if (!muted) process.stdout.write(chunk); done(); } });
  const rl = createInterface({ input: process.stdin, output, terminal: true });
  const ask = async (q: string, fallback?: string): Promise<string> => {
    const a = (await rl.question(fallback ? `${q} [${fallback}]: ` : `${q}: `)).trim();
    return a || fallback || '';
  };
  const askSecret = async (q: string): Promise<string> => {
    process.stdout.write(`${q} (not shown): `);
    muted = true;
    try {
      return (await rl.question('')).trim();
    } finally {
      muted = false;
      process.stdout.write('\n');
    }
  };
  try {
    stdio.line('Cuttle set-up');
    stdio.line(`Home directory (node-local, never shared): ${home}`);
    stdio.line('  1) Create a new cluster (this is the first node)');
    stdio.line('  2) Add this server as a node of an existing cluster');
    const choice = await ask('Choose 1 or 2', '1');
    if (choice !== '1' && choice !== '2') throw new UsageError(`"${choice}" is not 1 or 2; run \`cuttle setup\` again and choose 1 or 2.`);
    const databaseUrl = await ask('Database URL (postgres://user:password@host:5432/cuttle)');
    if (!databaseUrl) throw new UsageError('A database URL is required; run `cuttle setup` again and give one.');
    const nodeName = await ask('Node name', defaultNodeName());
    const listen = await ask('Listen address', '0.0.0.0:8080');
    // As Octopus's wizard asks which account the service runs as: the HA guide wants an account of
    // its own, with access to the shared database and storage.
    const service = /^y(es)?$/i.test(await ask('Install this node as a system service (systemd)? y/N', 'N'));
    let account = '';
    if (service) {
      account = await ask('Service account (created as a system account when missing)', 'cuttle');
      if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(account)) throw new UsageError(`"${account}" is not a valid account name; run \`cuttle setup\` again and use lower-case letters, digits, '_' or '-'.`);
    }
    if (choice === '1') {
      const adminUsername = await ask('Administrator user name', 'admin');
      const adminPassword = await askSecret('Administrator password (8 characters or more)');
      const r = await actions.setup({ home, databaseUrl, adminUsername, adminPassword, nodeName, listen });
      stdio.line('Created a new Cuttle cluster.');
      printNextSteps(home, r.masterKey);
    } else {
      const masterKey = await askSecret('Master key of the cluster (from `cuttle show-master-key` on its first node)');
      await actions.join({ home, databaseUrl, masterKey, nodeName, listen });
      stdio.line(`Node ${nodeName} joined the cluster.${service ? '' : ` Start it with: cuttle run --home ${home}`}`);
    }
    if (service) {
      // The cluster exists now whatever happens here: a refusal says why and how to install later.
      try {
        for (const line of await actions.installService({ home, user: account, createUser: true, start: true, printUnit: false })) stdio.line(line);
      } catch (err) {
        // Set-up is done all the same (exit 0): the refusal, how to install the service later, and
        // until then how to run the node by hand.
        stdio.line(errorMessage(err));
        stdio.line(`Install the service later with: cuttle service --install --user ${account} --create-user --start --home ${home}`);
        if (choice === '2') stdio.line(`Until then, start the node with: cuttle run --home ${home}`);
      }
    }
  } catch (err) {
    if ((err as { code?: string }).code === 'ABORT_ERR') throw new UsageError('Set-up was cancelled; nothing was written.');
    throw err instanceof Error ? err : new Error(errorMessage(err));
  } finally {
    rl.close();
  }
}
