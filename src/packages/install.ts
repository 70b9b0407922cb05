// What a package step does with an extracted package on the node: substitute variables in the
// files it lists (globs relative to the package root), and find its PreDeploy/Deploy/PostDeploy
// scripts. Substitution runs right after extraction, before any script of the package has run, and
// still never follows a link: the node may be root, and the folder is the worker's.
import { constants } from 'node:fs';
import { lstat, open, readdir } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { minimatch } from 'minimatch';
import type { Queryable } from '../db/pool.js';
import type { ArchiveLimits } from './archive.js';
import { feedLimits } from './feed.js';

/** Larger files are left as they are (and named in the error): a config file is not gigabytes. */
const MAX_SUBSTITUTED_BYTES = 16 * 1024 * 1024;

export async function archiveLimits(db: Queryable): Promise<ArchiveLimits> {
  return (await feedLimits(db)).archive;
}

export async function isPlainFile(path: string): Promise<boolean> {
  try {
    return (await lstat(path)).isFile();
  } catch {
    return false;
  }
}

/** Single-quoted for sh. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

async function* files(root: string, dir = root): AsyncGenerator<string> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* files(root, p);
    else if (e.isFile()) yield relative(root, p).split(sep).join('/');
  }
}

/** Substitutes `#{…}` in every regular file matching one of the globs; returns the files changed. */
export async function substituteInFiles(root: string, globs: readonly string[], evaluate: (text: string) => string, owner?: { uid: number; gid: number }): Promise<string[]> {
  const patterns = globs.map((g) => g.replace(/\\/g, '/').replace(/^\.\//, ''));
  const changed: string[] = [];
  for await (const rel of files(root)) {
    if (!patterns.some((p) => minimatch(rel, p, { dot: true, matchBase: !p.includes('/') }))) continue;
    // O_NOFOLLOW: a link put in the file's place is refused, never followed.
    const fh = await open(join(root, rel), constants.O_RDWR | constants.O_NOFOLLOW);
    try {
      const s = await fh.stat();
      if (!s.isFile() || s.nlink !== 1 || (owner && s.uid !== owner.uid)) throw new Error(`${rel} is not a plain file of the package`);
      if (s.size > MAX_SUBSTITUTED_BYTES) throw new Error(`${rel} is larger than ${MAX_SUBSTITUTED_BYTES / 1024 / 1024} MB; variables are substituted in smaller (text) files only`);
      const before = (await fh.readFile()).toString('utf8');
      const after = evaluate(before);
      if (after !== before) {
        await fh.truncate(0);
        await fh.write(after, 0, 'utf8');
        changed.push(rel);
      }
    } finally {
      await fh.close();
    }
  }
  return changed;
}
