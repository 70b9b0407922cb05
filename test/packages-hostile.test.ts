// Hostile and broken package archives, built here byte by byte: each is refused by the inspection a
// push makes and by extraction (which leaves nothing behind), with a sentence naming the problem.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { crc32, deflateRawSync, gzipSync } from 'node:zlib';
import * as tar from 'tar';
import { DEFAULT_LIMITS, PackageArchiveError, TarInspection, extractArchive, inspectArchive, type ArchiveKind, type ArchiveLimits } from '../src/packages/archive.js';
import { tempDir } from './helpers.js';

interface TarItem { path: string; type?: tar.Header['type']; body?: Buffer; linkpath?: string; mode?: number }

/** A tar built from raw headers (so it can hold what no packer would write). */
function tarOf(items: TarItem[]): Buffer {
  const blocks: Buffer[] = [];
  for (const i of items) {
    const body = i.body ?? Buffer.alloc(0);
    const h = new tar.Header({ path: i.path, type: i.type ?? 'File', size: i.type && i.type !== 'File' ? 0 : body.length, mode: i.mode ?? 0o644, linkpath: i.linkpath ?? '', mtime: new Date(0), uid: 0, gid: 0 });
    const block = Buffer.alloc(512);
    h.encode(block, 0);
    blocks.push(block);
    if (!i.type || i.type === 'File') blocks.push(body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

interface ZipItem { name: string; body?: Buffer; unixMode?: number; declaredSize?: number; deflate?: boolean }

/** A zip with a central directory; it may lie about sizes or carry unix symlink modes. */
function zipOf(items: ZipItem[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const i of items) {
    const body = i.body ?? Buffer.alloc(0);
    const data = i.deflate ? deflateRawSync(body) : body;
    const name = Buffer.from(i.name);
    const size = i.declaredSize ?? body.length;
    const crc = crc32(body);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0); local.writeUInt16LE(20, 4); local.writeUInt16LE(i.deflate ? 8 : 0, 8);
    local.writeUInt32LE(crc, 14); local.writeUInt32LE(data.length, 18); local.writeUInt32LE(size, 22); local.writeUInt16LE(name.length, 26);
    locals.push(local, name, data);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0); central.writeUInt16LE((3 << 8) | 20, 4); central.writeUInt16LE(20, 6); central.writeUInt16LE(i.deflate ? 8 : 0, 10);
    central.writeUInt32LE(crc, 16); central.writeUInt32LE(data.length, 20); central.writeUInt32LE(size, 24); central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(((i.unixMode ?? 0o100644) << 16) >>> 0, 38); central.writeUInt32LE(offset, 42);
    centrals.push(central, name);
    offset += 30 + name.length + data.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0); end.writeUInt16LE(items.length, 8); end.writeUInt16LE(items.length, 10); end.writeUInt32LE(cd.length, 12); end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

describe('package archives', () => {
  const dir = tempDir('cuttle-archives-');
  let n = 0;
  const file = (data: Buffer, ext: string) => { const f = join(dir, `a${++n}${ext}`); writeFileSync(f, data); return f; };
  const freshDest = async () => { const d = join(dir, `out${++n}`); await mkdir(d); return d; };

  /** Refused by inspection and by extraction, naming the problem; extraction leaves dest empty. */
  async function refused(data: Buffer, kind: ArchiveKind, pattern: RegExp, limits: ArchiveLimits = DEFAULT_LIMITS, inspect = true): Promise<void> {
    const f = file(data, kind === 'zip' ? '.zip' : kind === 'tar' ? '.tar' : '.tgz');
    const check = (e: unknown) => e instanceof PackageArchiveError && pattern.test(e.message);
    if (inspect) await assert.rejects(inspectArchive(f, kind, limits), check, `inspect ${pattern}`);
    const dest = await freshDest();
    await assert.rejects(extractArchive(f, kind, dest, limits), check, `extract ${pattern}`);
    assert.deepEqual(readdirSync(dest), [], 'nothing is left behind');
  }

  it('extracts good zip, tar and tar.gz packages with their contents and modes', async () => {
    const items: TarItem[] = [{ path: 'app/', type: 'Directory', mode: 0o755 }, { path: 'app/config.json', body: Buffer.from('{"a":1}\n') }, { path: 'Deploy.sh', body: Buffer.from('echo hi\n'), mode: 0o755 }];
    for (const [kind, data] of [['tar', tarOf(items)], ['tgz', gzipSync(tarOf(items))]] as const) {
      const f = file(data, kind === 'tar' ? '.tar' : '.tgz');
      assert.deepEqual(await inspectArchive(f, kind), { entries: 3, files: 2, expandedBytes: 16 });
      const dest = await freshDest();
      await extractArchive(f, kind, dest);
      assert.equal(readFileSync(join(dest, 'app', 'config.json'), 'utf8'), '{"a":1}\n');
      assert.equal(statSync(join(dest, 'Deploy.sh')).mode & 0o777, 0o755);
      assert.equal(statSync(join(dest, 'app', 'config.json')).mode & 0o777, 0o644);
    }
    const zip = file(zipOf([{ name: 'dir/', unixMode: 0o040755 }, { name: 'dir/a.txt', body: Buffer.from('alpha'), deflate: true }, { name: 'run.sh', body: Buffer.from('echo'), unixMode: 0o100755 }]), '.zip');
    assert.equal((await inspectArchive(zip, 'zip')).files, 2);
    const dest = await freshDest();
    await extractArchive(zip, 'zip', dest);
    assert.equal(readFileSync(join(dest, 'dir', 'a.txt'), 'utf8'), 'alpha');
    assert.equal(statSync(join(dest, 'run.sh')).mode & 0o777, 0o755);
  });

  it('refuses entries that leave the folder', async () => {
    await refused(gzipSync(tarOf([{ path: '../evil', body: Buffer.from('x') }])), 'tgz', /leaves the package/);
    await refused(tarOf([{ path: 'a/../../evil', body: Buffer.from('x') }]), 'tar', /leaves the package/);
    await refused(tarOf([{ path: '/etc/evil', body: Buffer.from('x') }]), 'tar', /absolute path/);
    await refused(tarOf([{ path: 'C:evil', body: Buffer.from('x') }]), 'tar', /drive/);
    await refused(tarOf([{ path: 'a\\..\\evil', body: Buffer.from('x') }]), 'tar', /backslash/);
    await refused(zipOf([{ name: '../evil', body: Buffer.from('x') }]), 'zip', /\.\./);
    await refused(zipOf([{ name: '/etc/evil', body: Buffer.from('x') }]), 'zip', /absolute/);
  });

  it('refuses links and special files', async () => {
    await refused(tarOf([{ path: 'passwd', type: 'SymbolicLink', linkpath: '/etc/passwd' }]), 'tar', /symbolic link/);
    await refused(gzipSync(tarOf([{ path: 'shadow', type: 'Link', linkpath: '/etc/shadow' }])), 'tgz', /hard link/);
    await refused(tarOf([{ path: 'dev', type: 'CharacterDevice' }]), 'tar', /CharacterDevice/);
    await refused(tarOf([{ path: 'fifo', type: 'FIFO' }]), 'tar', /FIFO/);
    await refused(zipOf([{ name: 'passwd', body: Buffer.from('/etc/passwd'), unixMode: 0o120777 }]), 'zip', /symbolic link/);
    // A file, then a folder of the same name holding another entry.
    await refused(tarOf([{ path: 'a', body: Buffer.from('x') }, { path: 'a/b', body: Buffer.from('y') }]), 'tar', /lies under a file/);
  });

  it('refuses too many entries, and archives that expand past the limits (declared or actual)', async () => {
    const small: ArchiveLimits = { maxEntries: 3, maxExpandedBytes: 50 * 1024 * 1024, maxRatio: 1e9 };
    await refused(zipOf(['a', 'b', 'c', 'd'].map((x) => ({ name: x, body: Buffer.from(x) }))), 'zip', /more than 3 entries/, small);
    await refused(tarOf(['a', 'b', 'c', 'd'].map((x) => ({ path: x, body: Buffer.from(x) }))), 'tar', /more than 3 entries/, small);
    // A zip whose entries declare 12 GB (and a ratio no real package has): refused from its central directory alone.
    const huge = ['x', 'y', 'z'].map((name) => ({ name, body: Buffer.from('tiny'), declaredSize: 0xfffffff0, deflate: true }));
    await refused(zipOf(huge), 'zip', /expands to more than 8192 MB/, { ...DEFAULT_LIMITS, maxRatio: 1e12 });
    await refused(zipOf(huge.slice(0, 1)), 'zip', /compression bomb/);
    // A zip that declares 10 bytes but inflates to 1 MB: only extraction sees it, and stops.
    await refused(zipOf([{ name: 'liar', body: Buffer.alloc(1024 * 1024, 1), declaredSize: 10, deflate: true }]), 'zip', /./, DEFAULT_LIMITS, false);
    // 80 MB of zeros in a gzip of about 80 KB: past a 50 MB limit, and past the default ratio.
    const bomb = gzipSync(tarOf([{ path: 'zeros', body: Buffer.alloc(80 * 1024 * 1024) }]));
    await refused(bomb, 'tgz', /expands to more than 50 MB/, { ...DEFAULT_LIMITS, maxExpandedBytes: 50 * 1024 * 1024, maxRatio: 1e9 });
    await refused(bomb, 'tgz', /compression bomb/);
  });

  it('refuses truncated, corrupt and non-archive files', async () => {
    const good = gzipSync(tarOf([{ path: 'a.txt', body: Buffer.alloc(200_000, 'a') }, { path: 'b.txt', body: Buffer.alloc(200_000, 'b') }]));
    await refused(good.subarray(0, Math.floor(good.length / 2)), 'tgz', /./);
    const corrupt = Buffer.from(good);
    for (let i = 200; i < 260; i++) corrupt[i] = corrupt[i]! ^ 0xff;
    await refused(corrupt, 'tgz', /./);
    const rawTar = tarOf([{ path: 'a.txt', body: Buffer.alloc(200_000, 'a') }]);
    await refused(rawTar.subarray(0, 100_000), 'tar', /truncated|not a readable/);
    const zip = zipOf([{ name: 'a.txt', body: Buffer.alloc(100_000, 'a'), deflate: true }]);
    await refused(zip.subarray(0, zip.length - 30), 'zip', /not a readable zip/);
    await refused(Buffer.from('this is plain text, not an archive at all; '.repeat(40)), 'zip', /not a readable zip/);
    await refused(Buffer.from('this is plain text, not an archive at all; '.repeat(40)), 'tgz', /not a readable tar/);
  });

  it('inspects a tar or tar.gz while it arrives (a push), refusing as soon as the bytes show the problem', async () => {
    /** Feeds `data` in 64 KB chunks, one per turn of the event loop as from a socket; how many were written when the refusal came, or the summary. */
    async function feed(data: Buffer, limits: ArchiveLimits = DEFAULT_LIMITS): Promise<{ written: number; chunks: number; result: unknown }> {
      const inspection = new TarInspection(limits);
      const chunks = Math.ceil(data.length / 65536);
      let written = 0;
      try {
        for (; written < chunks; written++) {
          await inspection.write(data.subarray(written * 65536, (written + 1) * 65536));
          await new Promise(setImmediate);
        }
        return { written, chunks, result: await inspection.end() };
      } catch (err) {
        inspection.abort();
        return { written, chunks, result: err };
      }
    }
    const items: TarItem[] = [{ path: 'app/', type: 'Directory' }, { path: 'app/big.bin', body: Buffer.alloc(3 * 1024 * 1024, 7) }, { path: 'run.sh', body: Buffer.from('echo\n'), mode: 0o755 }];
    for (const data of [tarOf(items), gzipSync(tarOf(items))]) {
      assert.deepEqual((await feed(data)).result, { entries: 3, files: 2, expandedBytes: 3 * 1024 * 1024 + 5 });
    }
    // An entry leaving the package, followed by 8 MB: refused long before the last chunk.
    const evil = await feed(tarOf([{ path: '../evil', body: Buffer.from('x') }, { path: 'filler', body: Buffer.alloc(8 * 1024 * 1024, 1) }]));
    assert.ok(evil.result instanceof PackageArchiveError && /leaves the package/.test(evil.result.message), String(evil.result));
    assert.ok(evil.written < evil.chunks / 2, `refused after ${evil.written} of ${evil.chunks} chunks`);
    // Too many entries, counted as they come.
    const many = await feed(tarOf(Array.from({ length: 50 }, (_, i) => ({ path: `f${i}`, body: Buffer.alloc(100_000, i) }))), { ...DEFAULT_LIMITS, maxEntries: 5 });
    assert.ok(many.result instanceof PackageArchiveError && /more than 5 entries/.test(many.result.message), String(many.result));
    assert.ok(many.written < many.chunks, 'refused before the end');
    // A compression bomb (80 MB of zeros in about 80 KB) and a gzip cut in half.
    const bomb = await feed(gzipSync(tarOf([{ path: 'zeros', body: Buffer.alloc(80 * 1024 * 1024) }])));
    assert.ok(bomb.result instanceof PackageArchiveError && /compression bomb/.test(bomb.result.message), String(bomb.result));
    const good = gzipSync(tarOf([{ path: 'a.txt', body: Buffer.alloc(300_000, 'a') }]));
    const cut = await feed(good.subarray(0, good.length >> 1));
    assert.ok(cut.result instanceof PackageArchiveError && /truncated|corrupt|cut short/.test(cut.result.message), String(cut.result));
    // An upload that stops: abort ends the parse without a refusal escaping.
    const stopped = new TarInspection();
    await stopped.write(tarOf(items).subarray(0, 65536));
    stopped.abort();
  });
});
