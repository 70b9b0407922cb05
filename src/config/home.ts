import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { homedir, hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { EnvironmentError, InputError, errorMessage } from '../errors.js';
import { parseMasterKey } from '../crypto/masterKey.js';
import { DEFAULT_DATABASE_POOL_SIZE, MAX_DATABASE_POOL_SIZE, MIN_DATABASE_POOL_SIZE, validPoolSize } from './options.js';

/** What a node's home holds besides its master key. Never shared between nodes. */
export interface NodeConfig {
  readonly nodeName: string;
  readonly databaseUrl: string;
  readonly listen: string;
  /** Pooled database connections of this node (CUTTLE_DATABASE_POOL_SIZE overrides it); default 5. */
  readonly databasePoolSize?: number;
  /** Where liveness and notifications connect when the pool goes through PgBouncer (CUTTLE_DATABASE_SESSION_URL overrides it). */
  readonly databaseSessionUrl?: string;
  /** Set by `cuttle start`: the embedded PostgreSQL server it runs. */
  readonly embeddedPostgres?: { readonly port: number; readonly dataDir: string };
}

export const CONFIG_FILE = 'cuttle.config.json';
export const KEY_FILE = 'master.key';
export const LOCK_FILE = 'node.lock';

export function resolveHome(flag: string | undefined): string {
  return resolve(flag ?? process.env.CUTTLE_HOME ?? join(homedir(), '.cuttle'));
}

export function defaultNodeName(): string {
  return hostname();
}

export function validateNodeName(name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) {
    throw new InputError(`The node name "${name}" is not valid; use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit.`);
  }
  return name;
}

export interface ListenAddress { readonly host: string; readonly port: number }

export function parseListen(text: string): ListenAddress {
  const m = /^(?:\[([0-9a-fA-F:]+)\]|([^:\s]+)):(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 1 && port <= 65535)) {
    throw new InputError(`The listen address "${text}" is not HOST:PORT; give one like 0.0.0.0:8080 or 127.0.0.1:8081.`);
  }
  return { host: (m[1] ?? m[2]) as string, port };
}

export function listenUrl(listen: ListenAddress): string {
  const host = listen.host === '0.0.0.0' || listen.host === '::' ? hostname() : listen.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${listen.port}`;
}

export function configExists(home: string): boolean {
  return existsSync(join(home, CONFIG_FILE));
}

export function readConfig(home: string): NodeConfig {
  const file = join(home, CONFIG_FILE);
  if (!existsSync(file)) {
    throw new EnvironmentError(`${home} is not a Cuttle home (no ${CONFIG_FILE}); run \`cuttle setup\` or \`cuttle join\` with --home ${home} first, or pass the right --home.`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new EnvironmentError(`The config file ${file} cannot be read (${errorMessage(err)}); restore it or run \`cuttle join\` again.`);
  }
  const c = parsed as Partial<NodeConfig>;
  if (typeof c.nodeName !== 'string' || typeof c.databaseUrl !== 'string' || typeof c.listen !== 'string') {
    throw new EnvironmentError(`The config file ${file} lacks nodeName, databaseUrl or listen; restore it or run \`cuttle join\` again.`);
  }
  if (c.databaseSessionUrl !== undefined && typeof c.databaseSessionUrl !== 'string') {
    throw new EnvironmentError(`The config file ${file} sets databaseSessionUrl to something other than a URL; give a postgres:// URL, or remove it to use databaseUrl.`);
  }
  if (c.databasePoolSize !== undefined && !validPoolSize(c.databasePoolSize)) {
    throw new EnvironmentError(`The config file ${file} sets databasePoolSize to ${JSON.stringify(c.databasePoolSize)}; give a whole number from ${MIN_DATABASE_POOL_SIZE} to ${MAX_DATABASE_POOL_SIZE}, or remove it for the default of ${DEFAULT_DATABASE_POOL_SIZE}.`);
  }
  return Object.freeze(c as NodeConfig);
}

export function readMasterKeyFile(home: string): string {
  const file = join(home, KEY_FILE);
  if (!existsSync(file)) {
    throw new EnvironmentError(`No master key in ${home} (${KEY_FILE} is missing); run \`cuttle join --master-key …\` to store it.`);
  }
  const text = readFileSync(file, 'utf8').trim();
  // A damaged file is not the user's typing mistake (exit 2), so name the file and how to restore it.
  try {
    parseMasterKey(text);
  } catch {
    throw new EnvironmentError(`The master key file ${file} does not hold a valid key (32 bytes in base64); write into it the key \`cuttle show-master-key\` prints on another node of the cluster.`);
  }
  return text;
}

/** Makes sure the home exists and is writable before anything is written to the database. */
export function prepareHome(home: string): void {
  try {
    mkdirSync(home, { recursive: true, mode: 0o700 });
    const probe = join(home, `.probe-${process.pid}`);
    writeFileSync(probe, 'x');
    rmSync(probe);
  } catch (err) {
    throw new EnvironmentError(`Cannot write to the home directory ${home} (${errorMessage(err)}); choose a writable --home.`);
  }
}

export interface StagedFile { commit(): void; discard(): void }

/** Writes a file under a temporary name; commit() renames it into place (atomic on one file system). */
export function stageFile(path: string, content: string, mode: number): StagedFile {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, content, { mode });
  chmodSync(tmp, mode);
  return {
    commit: () => renameSync(tmp, path),
    discard: () => rmSync(tmp, { force: true }),
  };
}

export function stageHomeFiles(home: string, config: NodeConfig, masterKey: string): StagedFile {
  const files = [
    stageFile(join(home, CONFIG_FILE), JSON.stringify(config, null, 2) + '\n', 0o600),
    stageFile(join(home, KEY_FILE), masterKey + '\n', 0o600),
  ];
  return {
    commit: () => files.forEach((f) => f.commit()),
    discard: () => files.forEach((f) => f.discard()),
  };
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    // A recycled pid that now belongs to another program does not hold the home.
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('cuttle');
  } catch {
    return true;
  }
}

/**
 * Takes the home's lock file so a second node process on the same home stops here, with a clear
 * message. Node has no flock(), so the file records the holder's pid and a stale file (holder
 * gone) is replaced. The database advisory lock on the node is the hard guarantee behind it.
 */
export function lockHome(home: string): () => void {
  const file = join(home, LOCK_FILE);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => {
        try {
          if (readFileSync(file, 'utf8').trim() === String(process.pid)) rmSync(file, { force: true });
        } catch { /* already gone */ }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new EnvironmentError(`Cannot create the lock file ${file} (${errorMessage(err)}); check the home directory's permissions.`);
      }
      const pid = Number(readFileSync(file, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid)) {
        throw new EnvironmentError(`The home directory ${home} is already used by a running Cuttle node (pid ${pid}); every node needs its own home, so stop that node or pass another --home.`);
      }
      rmSync(file, { force: true });
    }
  }
  throw new EnvironmentError(`Cannot take the lock file ${file}; another process keeps recreating it.`);
}

export function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
