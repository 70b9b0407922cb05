// Package archives are untrusted. Every push is inspected before it is kept, and a package step
// extracts with the same checks applied to what is actually read: no entry may leave the folder
// (absolute paths, `..`, drive letters, backslashes, NULs), no links or devices, at most so many
// entries, and no more expanded bytes (or expansion ratio) than the limits allow. Formats are read
// by well-kept libraries: yauzl (zip, nupkg) and node-tar (tar, tar.gz); memory stays bounded
// (entries are streamed, never buffered whole). Left out: inflating every zip entry at push time
// (a zip's data is checked, against its declared sizes and CRC, when it is extracted).
import { createReadStream, createWriteStream } from 'node:fs';
import { lchown, mkdir, readdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Transform, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar';
import yauzl from 'yauzl';
import { InputError, errorMessage } from '../errors.js';

export type ArchiveKind = 'zip' | 'tar' | 'tgz';

export function archiveKindOf(extension: string): ArchiveKind | undefined {
  switch (extension.toLowerCase()) {
    case '.zip': case '.nupkg': return 'zip';
    case '.tar': return 'tar';
    case '.tar.gz': case '.tgz': return 'tgz';
    default: return undefined;
  }
}

export interface ArchiveLimits { readonly maxEntries: number; readonly maxExpandedBytes: number; readonly maxRatio: number }
export const DEFAULT_LIMITS: ArchiveLimits = Object.freeze({ maxEntries: 100_000, maxExpandedBytes: 8 * 1024 ** 3, maxRatio: 1000 });
/** Below this many expanded bytes the ratio is not checked (small files compress very well). */
const RATIO_FLOOR = 64 * 1024 * 1024;

export interface ArchiveSummary { readonly entries: number; readonly files: number; readonly expandedBytes: number }

export class PackageArchiveError extends InputError {}

const refuse = (why: string) => new PackageArchiveError(`The package cannot be used: ${why}.`);

/** The entry's path inside the package (`./a/b` → `a/b`), or a refusal naming it. */
function entryPath(raw: string): string {
  const name = raw.replace(/^(\.\/)+/, '');
  const problem = name.includes('\0') ? 'contains a NUL character'
    : name.startsWith('/') ? 'is an absolute path'
    : /^[A-Za-z]:/.test(name) ? 'names a drive'
    : name.includes('\\') ? 'contains a backslash'
    : name.split('/').includes('..') ? 'leaves the package (it contains "..")'
    : undefined;
  if (problem) throw refuse(`its entry ${JSON.stringify(raw)} ${problem}`);
  return name.replace(/\/+$/, '');
}

/** Counts entries and bytes against the limits, and files and directories against each other. */
class Tally {
  entries = 0;
  files = 0;
  expanded = 0;
  private readonly kinds = new Map<string, 'file' | 'dir'>();
  constructor(private readonly limits: ArchiveLimits, private readonly compressed: number) {}

  entry(path: string, kind: 'file' | 'dir'): void {
    if (++this.entries > this.limits.maxEntries) throw refuse(`it has more than ${this.limits.maxEntries} entries (the packages.max_entries setting)`);
    if (kind === 'file') this.files++;
    if (!path) return;
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      if (this.kinds.get(parts.slice(0, i).join('/')) === 'file') throw refuse(`its entry ${JSON.stringify(path)} lies under a file of the same package`);
      this.kinds.set(parts.slice(0, i).join('/'), 'dir');
    }
    const before = this.kinds.get(path);
    if (before && (before !== kind || kind === 'file')) throw refuse(`its entry ${JSON.stringify(path)} appears twice`);
    this.kinds.set(path, kind);
  }

  bytes(n: number): void {
    this.expanded += n;
    if (this.expanded > this.limits.maxExpandedBytes) throw refuse(`it expands to more than ${Math.round(this.limits.maxExpandedBytes / 1024 / 1024)} MB (the packages.max_expanded_mb setting)`);
    if (this.expanded > RATIO_FLOOR && this.expanded > this.compressed * this.limits.maxRatio) {
      throw refuse(`it expands more than ${this.limits.maxRatio} times its size (a compression bomb; the packages.max_ratio setting)`);
    }
  }

  summary(): ArchiveSummary { return { entries: this.entries, files: this.files, expandedBytes: this.expanded }; }
}

function counter(tally: Tally, declared?: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      try {
        if (declared !== undefined && seen > declared) throw refuse(`an entry holds more data than it declares (${declared} bytes)`);
        tally.bytes(chunk.length);
      } catch (err) { done(err as Error); return; }
      done(null, chunk);
    },
  });
}

// ---- zip (yauzl) ----

const S_IFMT = 0o170000;
function zipKind(e: yauzl.Entry): 'file' | 'dir' {
  const type = (e.externalFileAttributes >>> 16) & S_IFMT;
  if (type === 0o120000) throw refuse(`its entry ${JSON.stringify(e.fileName)} is a symbolic link`);
  if (type !== 0 && type !== 0o100000 && type !== 0o040000) throw refuse(`its entry ${JSON.stringify(e.fileName)} is a device or special file`);
  return e.fileName.endsWith('/') || type === 0o040000 ? 'dir' : 'file';
}

function openZip(file: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => {
    // File names are checked here (entryPath), with our own sentences.
    yauzl.open(file, { lazyEntries: true, validateEntrySizes: true, decodeStrings: true, strictFileNames: false, autoClose: false }, (err, zip) => {
      if (err) reject(refuse(`it is not a readable zip archive (${err.message})`)); else resolve(zip);
    });
  });
}

/** Calls `each` for every entry in order (awaiting it), then resolves; the zip is closed either way. */
async function eachZipEntry(file: string, each: (zip: yauzl.ZipFile, e: yauzl.Entry) => Promise<void>): Promise<void> {
  const zip = await openZip(file);
  try {
    await new Promise<void>((resolve, reject) => {
      zip.on('error', (err: Error) => reject(err instanceof PackageArchiveError ? err : refuse(`its zip structure is broken (${err.message})`)));
      zip.on('end', () => resolve());
      zip.on('entry', (e: yauzl.Entry) => { each(zip, e).then(() => zip.readEntry(), reject); });
      zip.readEntry();
    });
  } finally {
    zip.close();
  }
}

function zipStream(zip: yauzl.ZipFile, e: yauzl.Entry): Promise<Readable> {
  return new Promise((resolve, reject) => zip.openReadStream(e, (err, s) => (err ? reject(refuse(`its entry ${JSON.stringify(e.fileName)} cannot be read (${err.message})`)) : resolve(s))));
}

// ---- tar (node-tar) ----

type TarEntry = tar.ReadEntry;
const TAR_FILE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile']);

function tarKind(e: TarEntry): 'file' | 'dir' {
  if (TAR_FILE_TYPES.has(e.type)) return 'file';
  if (e.type === 'Directory') return 'dir';
  if (e.type === 'SymbolicLink' || e.type === 'Link') throw refuse(`its entry ${JSON.stringify(e.path)} is a ${e.type === 'Link' ? 'hard' : 'symbolic'} link`);
  throw refuse(`its entry ${JSON.stringify(e.path)} is of the type ${e.type}, which a package may not hold`);
}

/** Streams the tar (gunzipped when it is) through node-tar's parser, strict: every warning is an error. */
async function eachTarEntry(file: string, each: (e: TarEntry, path: string, kind: 'file' | 'dir') => Promise<void>): Promise<void> {
  let failure: unknown;
  let failed!: () => void;
  const stop = new Promise<void>((resolve) => { failed = resolve; });
  const fail = (err: unknown) => { failure ??= err; failed(); };
  const pending: Promise<void>[] = [];
  const active = new Set<TarEntry>();
  const parser = new tar.Parser({
    strict: true,
    noResume: true,
    // Expansion is bounded by our own limits (the settings), which name the setting when they refuse.
    maxDecompressionRatio: Number.MAX_SAFE_INTEGER,
    onReadEntry: (e) => {
      if (failure) { e.resume(); return; }
      try {
        const path = entryPath(e.path);
        active.add(e);
        pending.push(each(e, path, tarKind(e)).catch(fail).finally(() => active.delete(e)));
      } catch (err) {
        fail(err);
        e.resume();
      }
    },
  });
  const ended = new Promise<void>((resolve) => { parser.on('end', () => resolve()); parser.on('error', (err: unknown) => { fail(err); resolve(); }); });
  try {
    // Fed by hand (the parser is not a stream): a chunk at a time, waiting while an entry is full.
    for await (const chunk of createReadStream(file)) {
      if (failure) break;
      if (!parser.write(chunk as Buffer) && !failure) await Promise.race([new Promise((resolve) => parser.once('drain', resolve)), ended, stop]);
    }
    if (!failure) parser.end();
  } catch (err) {
    fail(err);
  }
  if (!failure) await ended;
  for (const e of active) if ((e as unknown as { remain?: number }).remain) fail(refuse(`it is truncated (its entry ${JSON.stringify(e.path)} ends early)`));
  // An entry still waiting for data that will never come (a truncated archive) is ended with the failure.
  if (failure) for (const e of active) e.emit('error', failure instanceof Error ? failure : new Error(errorMessage(failure)));
  await Promise.all(pending);
  if (failure) throw failure instanceof PackageArchiveError ? failure : refuse(`it is not a readable tar archive (${errorMessage(failure)})`);
}

async function fileSize(file: string): Promise<number> {
  const { stat } = await import('node:fs/promises');
  return (await stat(file)).size;
}

export async function inspectArchive(file: string, kind: ArchiveKind, limits: ArchiveLimits = DEFAULT_LIMITS): Promise<ArchiveSummary> {
  const size = await fileSize(file);
  const tally = new Tally(limits, size);
  if (kind === 'zip') {
    await eachZipEntry(file, async (_zip, e) => {
      const path = entryPath(e.fileName);
      tally.entry(path, zipKind(e));
      tally.bytes(e.uncompressedSize);
      await Promise.resolve();
    });
  } else {
    await eachTarEntry(file, async (e, path, k) => {
      tally.entry(path, k);
      // Read through (the bytes actually there, not only the header's size): a truncated or
      // corrupt archive fails here, by length or gzip CRC.
      await pipeline(e as unknown as Readable, counter(tally, e.size), new Writable({ write(_chunk, _enc, done) { done(); } }));
    });
  }
  return tally.summary();
}

async function emptyFolder(dest: string): Promise<void> {
  for (const f of await readdir(dest).catch(() => [] as string[])) await rm(join(dest, f), { recursive: true, force: true });
}

export async function extractArchive(file: string, kind: ArchiveKind, dest: string, limits: ArchiveLimits = DEFAULT_LIMITS, owner?: { uid: number; gid: number }): Promise<ArchiveSummary> {
  if ((await readdir(dest)).length) throw new Error(`The extraction folder ${dest} is not empty.`);
  const size = await fileSize(file);
  const tally = new Tally(limits, size);
  const made = new Set<string>();
  const own = async (p: string) => { if (owner) await lchown(p, owner.uid, owner.gid); };
  // Folders are made one level at a time inside dest, by this process only: nothing in dest is a link.
  const folder = async (rel: string): Promise<void> => {
    if (!rel || rel === '.' || made.has(rel)) return;
    await folder(dirname(rel) === '.' ? '' : dirname(rel));
    await mkdir(join(dest, rel), { mode: 0o755 }).catch((err: NodeJS.ErrnoException) => { if (err.code !== 'EEXIST') throw err; });
    await own(join(dest, rel));
    made.add(rel);
  };
  const write = async (rel: string, data: Readable, executable: boolean, declared?: number) => {
    await folder(dirname(rel) === '.' ? '' : dirname(rel));
    const target = join(dest, rel);
    // 'wx': never over an existing name, never through a link.
    await pipeline(data, counter(tally, declared), createWriteStream(target, { flags: 'wx', mode: executable ? 0o755 : 0o644 }));
    await own(target);
  };
  try {
    if (kind === 'zip') {
      // What the central directory declares first (cheap), then what the entries really hold.
      await inspectArchive(file, kind, limits);
      await eachZipEntry(file, async (zip, e) => {
        const path = entryPath(e.fileName);
        const k = zipKind(e);
        tally.entry(path, k);
        if (k === 'dir') { await folder(path); return; }
        const mode = (e.externalFileAttributes >>> 16) & 0o777;
        await write(path, await zipStream(zip, e), (mode & 0o111) !== 0, e.uncompressedSize);
      });
    } else {
      await eachTarEntry(file, async (e, path, k) => {
        tally.entry(path, k);
        if (k === 'dir') { await folder(path); e.resume(); return; }
        await write(path, e as unknown as Readable, ((e.mode ?? 0) & 0o111) !== 0, e.size);
      });
    }
    return tally.summary();
  } catch (err) {
    await emptyFolder(dest);
    if (err instanceof PackageArchiveError) throw err;
    throw refuse(`it could not be extracted (${errorMessage(err)})`);
  }
}
