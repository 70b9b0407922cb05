import { constants, realpathSync } from 'node:fs';
import { access, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage } from '../errors.js';
import type { NodeRow } from '../cluster/nodes.js';
import { SHARED_FOLDERS, isWithin, type ResolvedPaths, type SharedFolder } from './sharedPaths.js';

export interface FolderCheck {
  readonly name: SharedFolder;
  readonly path: string;
  readonly ok: boolean;
  readonly problem?: string;
}

/**
 * Exists (created if its parent exists), readable and writable — proven by writing a file.
 * Asynchronous, like every operation on the share here: a hung network share must never stall
 * the event loop, which also carries the node's heartbeat.
 */
export async function checkFolder(name: SharedFolder, path: string, create: boolean): Promise<FolderCheck> {
  try {
    if (create) await mkdir(path, { recursive: false });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      return { name, path, ok: false, problem: `${name} folder ${path} does not exist and its parent is missing; mount or create the shared folder, then run \`cuttle path\` again` };
    }
    if (code !== 'EEXIST') return { name, path, ok: false, problem: `cannot create the ${name} folder ${path} (${errorMessage(err)}); check its permissions` };
  }
  try {
    await access(path, constants.R_OK | constants.W_OK | constants.X_OK);
    const probe = join(path, `.cuttle-probe-${process.pid}-${Date.now()}`);
    await writeFile(probe, 'probe');
    if ((await readFile(probe, 'utf8')) !== 'probe') throw new Error('a file written there reads back differently');
    await rm(probe);
    return { name, path, ok: true };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist'
      : code === 'EACCES' || code === 'EPERM' || code === 'EROFS' ? 'is not writable (read-only or wrong permissions)'
        : `cannot be used (${errorMessage(err)})`;
    return { name, path, ok: false, problem: `the ${name} folder ${path} ${why}; fix the share or its permissions, or point \`cuttle path\` elsewhere` };
  }
}

export async function checkFolders(paths: ResolvedPaths, create: boolean): Promise<FolderCheck[]> {
  return Promise.all(SHARED_FOLDERS.map((f) => checkFolder(f, paths[f], create)));
}

function realOrResolved(p: string): string {
  try { return realpathSync(p); } catch { return p; }
}

/** A home inside shared storage would be shared between nodes; name the folder that contains it. */
export function homeInsideShared(home: string, paths: ResolvedPaths, clusterShared?: string): string | undefined {
  const h = realOrResolved(home);
  const roots = [...SHARED_FOLDERS.map((f) => paths[f]), ...(clusterShared ? [clusterShared] : [])];
  return roots.find((r) => isWithin(h, realOrResolved(r)) || isWithin(home, r));
}

// Beacons: each node writes `<folder>/.cuttle-nodes/<node>.beacon` holding its per-start nonce.
// A peer that reads a different nonce (or none) than the database holds is not seeing the same folder.
const BEACON_DIR = '.cuttle-nodes';

export async function writeBeacons(paths: ResolvedPaths, nodeName: string, nonce: string): Promise<void> {
  for (const f of SHARED_FOLDERS) {
    const dir = join(paths[f], BEACON_DIR);
    await mkdir(dir, { recursive: true });
    const file = join(dir, `${nodeName}.beacon`);
    // One writer per file (this node), written whole: temp file then rename.
    await writeFile(`${file}.tmp`, nonce);
    await rename(`${file}.tmp`, file);
  }
}

export interface UnseenPeer { readonly node: string; readonly folder: SharedFolder; readonly problem: string }

export async function checkPeerBeacons(paths: ResolvedPaths, self: string, peers: readonly NodeRow[]): Promise<UnseenPeer[]> {
  const unseen: UnseenPeer[] = [];
  for (const peer of peers) {
    if (peer.name === self || !peer.online || !peer.storageNonce) continue;
    for (const f of SHARED_FOLDERS) {
      let seen: string | undefined;
      try { seen = await readFile(join(paths[f], BEACON_DIR, `${peer.name}.beacon`), 'utf8'); } catch { seen = undefined; }
      if (seen !== peer.storageNonce) {
        unseen.push({ node: peer.name, folder: f, problem: seen === undefined ? 'beacon missing' : 'beacon from another start' });
      }
    }
  }
  return unseen;
}
