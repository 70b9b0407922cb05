// Package archives are untrusted (users upload them). A push is inspected before it is kept, and a
// package step extracts with the same checks applied to what is actually read: no entry may leave
// the folder (absolute paths, `..`, drive letters, backslashes, NULs, over-long names), no links,
// devices or other special entries, no path that is both a file and a folder, at most so many
// entries, and no more expanded bytes (or expansion ratio) than the limits allow. The formats are
// read by well-kept libraries: yauzl (zip, nupkg) and node-tar (tar; tar.gz is gunzipped by
// node:zlib on the way in, so its CRC and length catch corruption and truncation). Entries are
// handled one at a time and streamed, so memory stays bounded whatever the archive holds.
// Zip names may use `\` as a separator (older Windows tools wrote them so): it is read as `/` before
// the checks. In a tar a backslash is refused outright. Not done here: inflating a zip's entries at
// push time (inspection reads its central directory; extraction checks sizes and CRCs as it writes).
import { createReadStream } from 'node:fs';
import { chmod, lchown, lstat, mkdir, open, readdir, rm, stat, type FileHandle } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { once } from 'node:events';
import { PassThrough, pipeline, Readable } from 'node:stream';
import { createGunzip, crc32 } from 'node:zlib';
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
const MAX_PATH = 4096;
const MAX_NAME_BYTES = 255;
const CHUNK = 64 * 1024;

export interface ArchiveSummary { readonly entries: number; readonly files: number; readonly expandedBytes: number }

export class PackageArchiveError extends InputError {}

const refuse = (why: string) => new PackageArchiveError(`The package cannot be used: ${why}.`);
const show = (name: string) => JSON.stringify(name.length > 120 ? `${name.slice(0, 120)}…` : name);
const sizeText = (n: number) => (n >= 1024 * 1024 ? `${Math.round(n / 1024 / 1024)} MB` : `${n} bytes`);

type Kind = 'file' | 'dir';
/** One entry, whichever the format: its name as written, its path inside the package, and its data. */
interface Item {
  readonly name: string;
  readonly path: string;
  readonly kind: Kind;
  /** The size the archive declares (a tar header's, a zip central directory's uncompressed size). */
  readonly size: number;
  readonly executable: boolean;
  readonly crc?: number;
  open(): Promise<AsyncIterable<Buffer>>;
}

/** The entry's path inside the package (`./a//b/` → `a/b`), or a refusal naming it. */
function entryPath(raw: string, zip: boolean): string {
  const name = zip ? raw.replace(/\\/g, '/') : raw;
  const problem = raw.length > MAX_PATH ? `is longer than ${MAX_PATH} characters`
    : raw.includes('\0') ? 'contains a NUL character'
    : !zip && raw.includes('\\') ? 'contains a backslash'
    : name.startsWith('/') ? 'is an absolute path'
    : /^[A-Za-z]:/.test(name) ? 'starts with a drive letter'
    : undefined;
  if (problem) throw refuse(`its entry ${show(raw)} ${problem}`);
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw refuse(`its entry ${show(raw)} leaves the package (it contains "..")`);
  if (parts.some((p) => Buffer.byteLength(p) > MAX_NAME_BYTES)) throw refuse(`its entry ${show(raw)} has a name longer than ${MAX_NAME_BYTES} bytes`);
  return parts.join('/');
}

/** Counts entries and bytes against the limits, and paths against each other (a file is never also a folder). */
class Tally {
  entries = 0;
  files = 0;
  expanded = 0;
  private implied = 0;
  /** Path (hashed when long, so memory stays bounded) → what it is. */
  private readonly paths = new Map<string, Kind>();
  /**
   * `compressed`: the archive's size, against which the expansion ratio is checked; an inspection
   * of an upload still arriving raises it as the bytes come (the ratio so far).
   */
  constructor(private readonly limits: ArchiveLimits, public compressed: number, private readonly arriving = false) {}

  entry(e: Item): void {
    const max = this.limits.maxEntries;
    if (++this.entries > max) throw refuse(`it has more than ${max} entries (the packages.max_entries setting)`);
    if (e.kind === 'file') this.files++;
    if (!e.path) {
      if (e.kind === 'file') throw refuse(`its entry ${show(e.name)} is a file without a name`);
      return;
    }
    const parts = e.path.split('/');
    // The folders above it, nearest first, until one already known (its own parents are known too).
    for (let i = parts.length - 1; i > 0; i--) {
      const folder = parts.slice(0, i).join('/');
      const was = this.paths.get(key(folder));
      if (was === 'file') throw refuse(`its entry ${show(e.name)} lies under a file of the same package (${show(folder)})`);
      if (was === 'dir') break;
      this.paths.set(key(folder), 'dir');
      if (++this.implied > max) throw refuse(`its paths make more than ${max} folders (the packages.max_entries setting)`);
    }
    const was = this.paths.get(key(e.path));
    if (was === 'file' || (was && e.kind === 'file')) throw refuse(`its entry ${show(e.name)} appears twice (as a ${was === 'dir' ? 'folder' : 'file'} and as a ${e.kind === 'dir' ? 'folder' : 'file'})`);
    this.paths.set(key(e.path), e.kind);
  }

  /** Refuses an entry whose declared size would take the package past the limits, before reading it. */
  fits(n: number, e: Item): void { this.check(this.expanded + n, e, !this.arriving); }
  add(n: number, e: Item): void { this.expanded += n; this.check(this.expanded, e, true); }

  /**
   * `ratio`: check the expansion ratio too. Not for a declared size while the archive is still
   * arriving: its bytes have not come yet (the ratio is checked as they are counted).
   */
  private check(total: number, e: Item, ratio: boolean): void {
    const { maxExpandedBytes, maxRatio } = this.limits;
    if (total > maxExpandedBytes) throw refuse(`it expands to more than ${sizeText(maxExpandedBytes)} (at its entry ${show(e.name)}; the packages.max_expanded_mb setting)`);
    if (ratio && total > RATIO_FLOOR && total > this.compressed * maxRatio) {
      throw refuse(`it expands more than ${maxRatio} times its own size, a compression bomb (at its entry ${show(e.name)}; the packages.max_ratio setting)`);
    }
  }

  summary(): ArchiveSummary { return { entries: this.entries, files: this.files, expandedBytes: this.expanded }; }
}

const key = (path: string) => (path.length <= 100 ? path : `\0${createHash('sha256').update(path).digest('base64')}`);

/** Reads an entry's data (into `sink` when given), counting it, and checks it against its declared size and CRC. */
async function copy(e: Item, tally: Tally, sink?: FileHandle): Promise<void> {
  let seen = 0;
  let crc = 0;
  try {
    for await (const chunk of await e.open()) {
      seen += chunk.length;
      if (seen > e.size) throw refuse(`its entry ${show(e.name)} holds more than the ${e.size} bytes it declares`);
      tally.add(chunk.length, e);
      if (e.crc !== undefined) crc = crc32(chunk, crc);
      for (let at = 0; sink && at < chunk.length;) at += (await sink.write(chunk, at)).bytesWritten;
    }
  } catch (err) {
    if (err instanceof PackageArchiveError) throw err;
    const why = errorMessage(err);
    throw refuse(/^too many bytes/.test(why) ? `its entry ${show(e.name)} inflates past the ${e.size} bytes it declares`
      : `its entry ${show(e.name)} cannot be read (${why})`);
  }
  if (seen < e.size) throw refuse(`it is truncated (its entry ${show(e.name)} ends after ${seen} of its ${e.size} bytes)`);
  if (e.crc !== undefined && crc !== e.crc) throw refuse(`its entry ${show(e.name)} is corrupt (its CRC-32 does not match)`);
}

// ---- zip (yauzl) ----

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

function zipItem(zip: yauzl.ZipFile, e: yauzl.Entry): Item {
  // decodeStrings is off so that the names are checked here, with these sentences (yauzl would refuse some with its own).
  const name = yauzl.getFileNameLowLevel(e.generalPurposeBitFlag, e.fileNameRaw, e.extraFields, true);
  const path = entryPath(name, true);
  const mode = e.externalFileAttributes >>> 16;
  const type = mode & S_IFMT;
  if (type === S_IFLNK) throw refuse(`its entry ${show(name)} is a symbolic link`);
  if (type !== 0 && type !== S_IFREG && type !== S_IFDIR) throw refuse(`its entry ${show(name)} is a device or other special file`);
  const kind: Kind = /[\\/]$/.test(name) || type === S_IFDIR ? 'dir' : 'file';
  if (kind === 'dir' && e.uncompressedSize > 0) throw refuse(`its entry ${show(name)} is a folder that holds data`);
  if (kind === 'file' && e.isEncrypted()) throw refuse(`its entry ${show(name)} is encrypted`);
  if (kind === 'file' && e.compressionMethod !== 0 && e.compressionMethod !== 8) {
    throw refuse(`its entry ${show(name)} uses compression method ${e.compressionMethod} (only stored and deflated entries can be read)`);
  }
  const open = (): Promise<AsyncIterable<Buffer>> => (kind === 'dir' ? Promise.resolve(Readable.from([])) : new Promise((resolve, reject) => {
    zip.openReadStream(e, (err, s) => (err ? reject(err) : resolve(s as AsyncIterable<Buffer>)));
  }));
  return { name, path, kind, size: e.uncompressedSize, executable: (mode & 0o111) !== 0, crc: e.crc32, open };
}

/** Visits every entry in order (awaiting each); the zip is closed either way. */
async function walkZip(file: string, limits: ArchiveLimits, visit: (e: Item) => Promise<void>): Promise<void> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) => {
    yauzl.open(file, { lazyEntries: true, validateEntrySizes: true, decodeStrings: false, autoClose: false }, (err, z) => {
      if (err) reject(refuse(`it is not a readable zip archive (${err.message})`)); else resolve(z);
    });
  });
  try {
    if (zip.entryCount > limits.maxEntries) throw refuse(`it has more than ${limits.maxEntries} entries (the packages.max_entries setting)`);
    await new Promise<void>((resolve, reject) => {
      let failed = false;
      const fail = (err: unknown) => {
        if (!failed) reject(err instanceof PackageArchiveError ? err : refuse(`its zip structure is broken (${errorMessage(err)})`));
        failed = true;
      };
      zip.on('error', fail);
      zip.on('end', () => resolve());
      zip.on('entry', (e: yauzl.Entry) => {
        Promise.resolve().then(() => visit(zipItem(zip, e))).then(() => { if (!failed) zip.readEntry(); }, fail);
      });
      zip.readEntry();
    });
  } finally {
    zip.close();
  }
}

// ---- tar and tar.gz (node-tar, node:zlib) ----

const TAR_FILES = new Set(['File', 'OldFile', 'ContiguousFile']);
const isGzip = (b: Buffer) => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;

/** The entry's data, until the archive fails (walkTar destroys an entry whose data will not come). */
async function* until(e: tar.ReadEntry, stopped: () => boolean): AsyncGenerator<Buffer> {
  if (stopped()) throw new Error('the archive ended early');
  for await (const chunk of e) {
    yield chunk;
    if (stopped()) throw new Error('the archive ended early');
  }
}

function tarItem(e: tar.ReadEntry, stopped: () => boolean): Item {
  const path = entryPath(e.path, false);
  const kind: Kind | undefined = TAR_FILES.has(e.type) ? 'file' : e.type === 'Directory' ? 'dir' : undefined;
  if (e.type === 'SymbolicLink' || e.type === 'Link') {
    throw refuse(`its entry ${show(e.path)} is a ${e.type === 'Link' ? 'hard' : 'symbolic'} link (to ${show(e.linkpath ?? '')})`);
  }
  if (!kind) throw refuse(`its entry ${show(e.path)} is of the type ${e.type}, which a package may not hold`);
  return { name: e.path, path, kind, size: e.size, executable: ((e.mode ?? 0) & 0o111) !== 0, open: () => Promise.resolve(until(e, stopped)) };
}

/**
 * The tar's bytes from the archive's: gunzipped by node:zlib when they start as gzip (whatever the
 * file's name says). zlib inflates in libuv's thread pool, beside the event loop.
 */
async function* tarBytes(raw: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const it = raw[Symbol.asyncIterator]();
  const first = await it.next();
  if (first.done) return;
  async function* all(): AsyncGenerator<Buffer> {
    yield first.value;
    for (let n = await it.next(); !n.done; n = await it.next()) yield n.value;
  }
  if (!isGzip(first.value)) { yield* all(); return; }
  yield* pipeline(Readable.from(all(), { objectMode: false }), createGunzip({ chunkSize: CHUNK }), () => undefined) as AsyncIterable<Buffer>;
}

const fileBytes = (file: string): AsyncIterable<Buffer> => createReadStream(file, { highWaterMark: CHUNK });

function tarFailure(err: unknown): PackageArchiveError {
  if (err instanceof PackageArchiveError) return err;
  const why = errorMessage(err);
  const entry = (err as { entry?: { path?: string } }).entry?.path;
  if (/Truncated input/.test(why)) return refuse(`it is truncated (${entry ? `its entry ${show(entry)} ends early` : why})`);
  if (/^Z_/.test(String((err as { code?: unknown }).code))) return refuse(`it is not a readable tar archive (its gzip data is corrupt or cut short: ${why})`);
  return refuse(`it is not a readable tar archive (${why})`);
}

/**
 * Streams the tar through node-tar's parser, strict (every warning is an error), visiting one entry
 * at a time: the next entry is not read before the previous visit has finished, and the file is fed
 * only as fast as the entries are read.
 */
async function walkTar(raw: AsyncIterable<Buffer>, visit: (e: Item) => Promise<void>): Promise<void> {
  let failure: unknown;
  let sawEnd = false;
  let current: tar.ReadEntry | undefined;
  let wake: (() => void) | undefined;
  let chain = Promise.resolve();
  const fail = (err: unknown) => {
    failure ??= err;
    current?.destroy();
    wake?.();
  };
  const stopped = () => failure !== undefined;
  const parser = new tar.Parser({
    strict: true,
    zstd: false,
    // Expansion is bounded by the limits (the settings), which name the setting when they refuse.
    maxDecompressionRatio: Number.MAX_SAFE_INTEGER,
    onReadEntry: (e) => {
      chain = chain.then(async () => {
        if (failure) return;
        current = e;
        try { await visit(tarItem(e, stopped)); } catch (err) { fail(err); } finally { current = undefined; }
      }).finally(() => e.resume());
    },
  });
  parser.on('ignoredEntry', (e: tar.ReadEntry) => fail(refuse(`its entry ${show(e.path)} is of the type ${e.type}${e.meta ? ' and too large' : ''}, which a package may not hold`)));
  parser.on('eof', () => { sawEnd = true; });
  parser.on('error', fail);
  // Until the parser emits `event`, or the archive fails.
  const waitFor = (event: 'drain' | 'end') => new Promise<void>((resolve) => { wake = resolve; parser.once(event, () => resolve()); });
  try {
    let first = true;
    for await (const chunk of tarBytes(raw)) {
      // A tar inside the gzip that is itself compressed: node-tar would inflate it again, in bursts.
      if (first && isGzip(chunk)) fail(refuse('it is compressed twice'));
      first = false;
      if (failure) break;
      if (!parser.write(chunk) && !failure) await waitFor('drain');
      if (failure) break;
    }
    if (!failure) {
      const done = waitFor('end');
      parser.end();
      await done;
    }
  } catch (err) {
    fail(err);
  }
  await chain;
  if (!failure && !sawEnd) failure = refuse('it is truncated (the tar archive has no end-of-archive marker)');
  if (failure) throw tarFailure(failure);
}

// ---- inspection and extraction ----

function walk(file: string, kind: ArchiveKind, limits: ArchiveLimits, visit: (e: Item) => Promise<void>): Promise<void> {
  return kind === 'zip' ? walkZip(file, limits, visit) : walkTar(fileBytes(file), visit);
}

/** Counts a tar entry's header, then the bytes actually there: a truncated or corrupt tar fails here. */
async function inspectTarEntry(e: Item, tally: Tally): Promise<void> {
  tally.entry(e);
  tally.fits(e.size, e);
  await copy(e, tally);
}

/**
 * An inspection fed with an archive's bytes as they arrive (a push being uploaded): a tar or tar.gz
 * is parsed, and checked against the limits, while it is written, rather than read again after; a
 * zip, whose directory is at its end, is inspected from its file once it is whole
 * ({@link inspectArchive}). `write` waits while the parser is behind (and throws the refusal as
 * soon as there is one); `end` gives the summary once the last byte has been checked.
 */
export class TarInspection {
  // Object mode: each chunk is handed on as it came (a byte-mode stream's reader would concatenate them).
  private readonly input = new PassThrough({ objectMode: true, highWaterMark: 64 });
  private readonly tally: Tally;
  private readonly done: Promise<ArchiveSummary>;
  private failure: Error | undefined;
  private received = 0;

  /** `size`: the archive's whole size when known (a file); otherwise the ratio is checked against what has arrived. */
  constructor(limits: ArchiveLimits = DEFAULT_LIMITS, private readonly size?: number) {
    this.tally = new Tally(limits, size ?? 0, size === undefined);
    // Its failures reach the walk (while it reads) or nobody (after): never an unhandled 'error'.
    this.input.on('error', () => undefined);
    this.done = walkTar(this.input, (e) => inspectTarEntry(e, this.tally)).then(() => this.tally.summary());
    // Remembered for write/end; the walk stops reading at its first failure.
    this.done.catch((err: unknown) => { this.failure = err instanceof Error ? err : new Error(String(err)); this.input.resume(); });
  }

  async write(chunk: Buffer): Promise<void> {
    this.check();
    this.received += chunk.length;
    if (this.size === undefined) this.tally.compressed = this.received;
    if (!this.input.write(chunk)) await Promise.race([once(this.input, 'drain'), this.done]);
    this.check();
  }

  private check(): void {
    if (this.failure) throw this.failure;
  }

  /** After the last byte: the archive's summary, or its refusal. */
  async end(): Promise<ArchiveSummary> {
    this.input.end();
    return this.done;
  }

  /** Stops the parse (the upload failed); any refusal it had is dropped. */
  abort(): void {
    this.done.catch(() => undefined);
    this.input.destroy(new Error('the upload stopped'));
  }
}

export async function inspectArchive(file: string, kind: ArchiveKind, limits: ArchiveLimits = DEFAULT_LIMITS): Promise<ArchiveSummary> {
  const size = (await stat(file)).size;
  if (kind !== 'zip') {
    const inspection = new TarInspection(limits, size);
    try {
      for await (const chunk of fileBytes(file)) await inspection.write(chunk);
    } catch (err) {
      inspection.abort();
      throw err;
    }
    return inspection.end();
  }
  const tally = new Tally(limits, size);
  await walkZip(file, limits, (e) => {
    tally.entry(e);
    tally.add(e.size, e);
    return Promise.resolve();
  });
  return tally.summary();
}

/** Makes `rel` (and its parents) under dest, checking that what is there is a real folder, not a file or a link. */
async function folder(dest: string, rel: string, made: Set<string>, owner?: { uid: number; gid: number }): Promise<void> {
  if (!rel || made.has(rel)) return;
  const parent = dirname(rel);
  await folder(dest, parent === '.' ? '' : parent, made, owner);
  const p = join(dest, rel);
  let created = true;
  await mkdir(p, { mode: 0o755 }).catch((err: NodeJS.ErrnoException) => { if (err.code !== 'EEXIST') throw err; created = false; });
  if (!(await lstat(p)).isDirectory()) throw refuse(`its path ${show(rel)} is needed as a folder but is already something else`);
  if (created) {
    await chmod(p, 0o755);
    if (owner) await lchown(p, owner.uid, owner.gid);
  }
  made.add(rel);
}

export async function extractArchive(file: string, kind: ArchiveKind, dest: string, limits: ArchiveLimits = DEFAULT_LIMITS, owner?: { uid: number; gid: number }): Promise<ArchiveSummary> {
  // The caller's mistake, not the package's: nothing here is removed.
  if ((await readdir(dest)).length > 0) throw new Error(`The extraction folder ${dest} is not empty.`);
  const made = new Set<string>();
  try {
    // A zip's central directory first (cheap): declared sizes past the limits are refused before anything is written.
    if (kind === 'zip') await inspectArchive(file, kind, limits);
    const tally = new Tally(limits, (await stat(file)).size);
    await walk(file, kind, limits, async (e) => {
      tally.entry(e);
      tally.fits(e.size, e);
      try {
        if (e.kind === 'dir') {
          await folder(dest, e.path, made, owner);
          await copy(e, tally);
          return;
        }
        const parent = dirname(e.path);
        await folder(dest, parent === '.' ? '' : parent, made, owner);
        const mode = e.executable ? 0o755 : 0o644;
        // 'wx' (O_CREAT | O_EXCL): never over an existing name, never through a link.
        const fh = await open(join(dest, e.path), 'wx', mode);
        try {
          await fh.chmod(mode);
          if (owner) await fh.chown(owner.uid, owner.gid);
          await copy(e, tally, fh);
        } finally {
          await fh.close();
        }
      } catch (err) {
        throw err instanceof PackageArchiveError ? err : refuse(`its entry ${show(e.name)} could not be written (${errorMessage(err)})`);
      }
    });
    return tally.summary();
  } catch (err) {
    for (const f of await readdir(dest).catch(() => [] as string[])) await rm(join(dest, f), { recursive: true, force: true });
    throw err instanceof PackageArchiveError ? err : refuse(`it could not be extracted (${errorMessage(err)})`);
  }
}
