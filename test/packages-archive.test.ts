// Package archives (src/packages/archive.ts): good zip, nupkg, tar and tar.gz packages inspected and
// extracted with their contents and modes; hostile and broken ones (paths leaving the folder, links,
// devices, collisions, too many entries, bombs declared or actual, truncated, corrupt, not archives)
// refused with a PackageArchiveError whose sentence names the problem, leaving the folder empty.
// tar files are made with node-tar (tar.create, or raw headers from its Header class for what no
// packer writes); zip files with the small writer below, which can lie.
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { crc32, deflateRawSync, gzipSync } from 'node:zlib';
import * as tar from 'tar';
import {
  DEFAULT_LIMITS, PackageArchiveError, archiveKindOf, extractArchive, inspectArchive, type ArchiveKind, type ArchiveLimits,
} from '../src/packages/archive.js';
import { tempDir } from './helpers.js';

interface ZipItem {
  name: string;
  body?: Buffer | string;
  deflate?: boolean;
  /** Unix mode in the external attributes' high 16 bits (0o100644 when left out). */
  mode?: number;
  /** The uncompressed size to declare (the real one when left out). */
  declaredSize?: number;
  crc?: number;
  method?: number;
  flags?: number;
}

/** A minimal zip: local headers, data, central directory, end record. */
function zipOf(items: ZipItem[]): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const i of items) {
    const body = Buffer.from(i.body ?? '');
    const data = i.deflate ? deflateRawSync(body) : body;
    const name = Buffer.from(i.name);
    const method = i.method ?? (i.deflate ? 8 : 0);
    const crc = i.crc ?? crc32(body);
    const size = i.declaredSize ?? body.length;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(i.flags ?? 0, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE((3 << 8) | 20, 4); // made by Unix
    c.writeUInt16LE(20, 6);
    c.writeUInt16LE(i.flags ?? 0, 8);
    c.writeUInt16LE(method, 10);
    c.writeUInt32LE(crc, 16);
    c.writeUInt32LE(data.length, 20);
    c.writeUInt32LE(size, 24);
    c.writeUInt16LE(name.length, 28);
    c.writeUInt32LE(((i.mode ?? 0o100644) << 16) >>> 0, 38);
    c.writeUInt32LE(offset, 42);
    parts.push(local, name, data);
    central.push(c, name);
    offset += 30 + name.length + data.length;
  }
  const cd = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(items.length, 8);
  end.writeUInt16LE(items.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, cd, end]);
}

interface TarItem { path: string; type?: tar.Header['type']; body?: Buffer | string; linkpath?: string; mode?: number }

/** A tar from raw headers written by node-tar's Header class: it can hold what no packer would write. */
function tarOf(items: TarItem[]): Buffer {
  const blocks: Buffer[] = [];
  for (const i of items) {
    const body = Buffer.from(i.body ?? '');
    const header = Buffer.alloc(512);
    new tar.Header({ path: i.path, type: i.type ?? 'File', size: body.length, mode: i.mode ?? 0o644, linkpath: i.linkpath, mtime: new Date(0), uid: 0, gid: 0 }).encode(header, 0);
    blocks.push(header, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

const mode = (p: string) => statSync(p).mode & 0o777;

describe('package archives', () => {
  const dir = tempDir('cuttle-archive-');
  let n = 0;
  const save = (data: Buffer, ext = '.bin') => {
    const f = join(dir, `p${++n}${ext}`);
    writeFileSync(f, data);
    return f;
  };
  const emptyDest = async () => {
    const d = join(dir, `out${++n}`);
    await mkdir(d);
    return d;
  };
  const refusal = (pattern: RegExp) => (err: unknown) => {
    assert.ok(err instanceof PackageArchiveError, `a PackageArchiveError, not ${String(err)}`);
    assert.match(err.message, pattern);
    assert.match(err.message, /^The package cannot be used: .*\.$/);
    return true;
  };

  /** Refused by extraction (leaving dest empty) and, unless told, by inspection too. */
  async function refused(data: Buffer, kind: ArchiveKind, pattern: RegExp, opts: { limits?: ArchiveLimits; inspect?: boolean } = {}): Promise<void> {
    const f = save(data, kind === 'zip' ? '.zip' : kind === 'tar' ? '.tar' : '.tgz');
    if (opts.inspect !== false) await assert.rejects(inspectArchive(f, kind, opts.limits), refusal(pattern), `inspect: ${pattern}`);
    const dest = await emptyDest();
    await assert.rejects(extractArchive(f, kind, dest, opts.limits), refusal(pattern), `extract: ${pattern}`);
    assert.deepEqual(readdirSync(dest), [], 'nothing is left under dest');
  }

  it('maps package extensions to archive kinds', () => {
    assert.equal(archiveKindOf('.zip'), 'zip');
    assert.equal(archiveKindOf('.NuPkg'), 'zip');
    assert.equal(archiveKindOf('.tar'), 'tar');
    assert.equal(archiveKindOf('.tar.gz'), 'tgz');
    assert.equal(archiveKindOf('.TGZ'), 'tgz');
    assert.equal(archiveKindOf('.gz'), undefined);
    assert.equal(archiveKindOf('.exe'), undefined);
    assert.deepEqual(DEFAULT_LIMITS, { maxEntries: 100_000, maxExpandedBytes: 8 * 1024 ** 3, maxRatio: 1000 });
  });

  it('inspects and extracts a good zip: stored and deflated entries, folders, executable bits', async () => {
    const f = save(zipOf([
      { name: 'app/', mode: 0o040755 },
      { name: 'app/config.json', body: '{"a":1}\n', deflate: true },
      { name: './Deploy.sh', body: 'echo hi\n', mode: 0o100755 },
      { name: 'lib/deep/data.bin', body: Buffer.alloc(100_000, 7), deflate: true },
    ]), '.zip');
    assert.deepEqual(await inspectArchive(f, 'zip'), { entries: 4, files: 3, expandedBytes: 8 + 8 + 100_000 });
    const dest = await emptyDest();
    assert.deepEqual(await extractArchive(f, 'zip', dest), { entries: 4, files: 3, expandedBytes: 100_016 });
    assert.equal(readFileSync(join(dest, 'app', 'config.json'), 'utf8'), '{"a":1}\n');
    assert.deepEqual(readFileSync(join(dest, 'lib', 'deep', 'data.bin')), Buffer.alloc(100_000, 7));
    assert.equal(mode(join(dest, 'Deploy.sh')), 0o755);
    assert.equal(mode(join(dest, 'app', 'config.json')), 0o644);
    assert.equal(mode(join(dest, 'app')), 0o755);
    assert.equal(mode(join(dest, 'lib', 'deep')), 0o755, 'folders implied by paths are made too');
  });

  it('extracts a nupkg-style zip (no folder entries, Windows separators), with exact modes whatever the umask', async () => {
    const f = save(zipOf([
      { name: '[Content_Types].xml', body: '<Types/>', deflate: true },
      { name: '_rels/.rels', body: '<Relationships/>', deflate: true },
      { name: 'Hello.nuspec', body: '<package/>', deflate: true },
      { name: 'content\\web.config', body: '<configuration/>', mode: 0 },
      { name: 'lib/net8.0/Hello.dll', body: Buffer.alloc(5000, 1), deflate: true },
    ]), '.nupkg');
    const kind = archiveKindOf('.nupkg')!;
    assert.equal((await inspectArchive(f, kind)).files, 5);
    const dest = await emptyDest();
    const umask = process.umask(0o077);
    try {
      await extractArchive(f, kind, dest);
    } finally {
      process.umask(umask);
    }
    assert.deepEqual(readdirSync(dest).sort(), ['Hello.nuspec', '[Content_Types].xml', '_rels', 'content', 'lib']);
    assert.equal(readFileSync(join(dest, 'content', 'web.config'), 'utf8'), '<configuration/>');
    assert.equal(mode(join(dest, 'lib', 'net8.0', 'Hello.dll')), 0o644);
    assert.equal(mode(join(dest, 'lib', 'net8.0')), 0o755);
  });

  it('inspects and extracts tar and tar.gz packages made by node-tar, with their contents and modes', async () => {
    const src = join(dir, 'src');
    mkdirSync(join(src, 'app', 'sub'), { recursive: true });
    writeFileSync(join(src, 'app', 'config.json'), '{"b":2}\n');
    writeFileSync(join(src, 'app', 'sub', 'big.bin'), Buffer.alloc(300_000, 'x'));
    writeFileSync(join(src, 'Deploy.sh'), '#!/bin/sh\necho deployed\n', { mode: 0o755 });
    for (const [kind, gzip] of [['tar', false], ['tgz', true]] as const) {
      const f = join(dir, `good.${kind}`);
      await tar.create({ cwd: src, file: f, gzip, portable: true }, ['.']);
      // ./, ./app/, ./app/config.json, ./app/sub/, ./app/sub/big.bin, ./Deploy.sh
      const expected = { entries: 6, files: 3, expandedBytes: 8 + 300_000 + 24 };
      assert.deepEqual(await inspectArchive(f, kind), expected);
      const dest = await emptyDest();
      assert.deepEqual(await extractArchive(f, kind, dest), expected);
      assert.equal(readFileSync(join(dest, 'app', 'config.json'), 'utf8'), '{"b":2}\n');
      assert.deepEqual(readFileSync(join(dest, 'app', 'sub', 'big.bin')), Buffer.alloc(300_000, 'x'));
      assert.equal(mode(join(dest, 'Deploy.sh')), 0o755);
      assert.equal(mode(join(dest, 'app', 'config.json')), 0o644);
      assert.equal(mode(join(dest, 'app', 'sub')), 0o755);
    }
  });

  it('gives every path it creates to the owner it is told', { skip: process.getuid?.() !== 0 && 'needs root to chown' }, async () => {
    const f = save(gzipSync(tarOf([{ path: 'a/', type: 'Directory', mode: 0o755 }, { path: 'a/b/c.txt', body: 'c' }, { path: 'd.sh', body: 'd', mode: 0o755 }])), '.tgz');
    const dest = await emptyDest();
    await extractArchive(f, 'tgz', dest, DEFAULT_LIMITS, { uid: 4321, gid: 4322 });
    for (const p of ['a', 'a/b', 'a/b/c.txt', 'd.sh']) {
      const s = statSync(join(dest, p));
      assert.deepEqual([s.uid, s.gid], [4321, 4322], p);
    }
  });

  it('refuses entries whose paths leave the folder: "..", absolute, drive letters, backslashes, NULs', async () => {
    await refused(tarOf([{ path: '../evil', body: 'x' }]), 'tar', /"\.\.\/evil" leaves the package/);
    await refused(gzipSync(tarOf([{ path: 'ok.txt', body: 'fine' }, { path: 'a/../../evil', body: 'x' }])), 'tgz', /"a\/\.\.\/\.\.\/evil" leaves the package/);
    await refused(tarOf([{ path: '/etc/evil', body: 'x' }]), 'tar', /"\/etc\/evil" is an absolute path/);
    await refused(tarOf([{ path: 'C:evil', body: 'x' }]), 'tar', /"C:evil" starts with a drive letter/);
    await refused(tarOf([{ path: 'a\\..\\..\\evil', body: 'x' }]), 'tar', /contains a backslash/);
    await refused(zipOf([{ name: '../evil', body: 'x' }]), 'zip', /"\.\.\/evil" leaves the package/);
    await refused(zipOf([{ name: 'ok.txt', body: 'fine' }, { name: 'sub/../../evil', body: 'x' }]), 'zip', /leaves the package/);
    await refused(zipOf([{ name: '/etc/evil', body: 'x' }]), 'zip', /"\/etc\/evil" is an absolute path/);
    await refused(zipOf([{ name: '..\\evil', body: 'x' }]), 'zip', /"\.\.\\\\evil" leaves the package/);
    await refused(zipOf([{ name: '\\\\server\\share\\evil', body: 'x' }]), 'zip', /is an absolute path/);
    await refused(zipOf([{ name: 'C:\\Windows\\evil', body: 'x' }]), 'zip', /starts with a drive letter/);
    await refused(zipOf([{ name: 'a\0b', body: 'x' }]), 'zip', /contains a NUL character/);
    await refused(zipOf([{ name: `${'n'.repeat(300)}.txt`, body: 'x' }]), 'zip', /a name longer than 255 bytes/);
  });

  it('refuses links, devices and FIFOs', async () => {
    // A real symbolic link, packed by node-tar as it found it.
    const src = join(dir, 'linked');
    mkdirSync(src);
    writeFileSync(join(src, 'ok.txt'), 'ok');
    symlinkSync('/etc/passwd', join(src, 'passwd'));
    const linked = join(dir, 'linked.tgz');
    await tar.create({ cwd: src, file: linked, gzip: true }, ['ok.txt', 'passwd']);
    await refused(readFileSync(linked), 'tgz', /"passwd" is a symbolic link \(to "\/etc\/passwd"\)/);
    await refused(tarOf([{ path: 'up', type: 'SymbolicLink', linkpath: '../../..' }]), 'tar', /"up" is a symbolic link/);
    await refused(tarOf([{ path: 'shadow', type: 'Link', linkpath: '/etc/shadow' }]), 'tar', /"shadow" is a hard link \(to "\/etc\/shadow"\)/);
    await refused(tarOf([{ path: 'null', type: 'CharacterDevice' }]), 'tar', /"null" is of the type CharacterDevice/);
    await refused(tarOf([{ path: 'sda', type: 'BlockDevice' }]), 'tar', /"sda" is of the type BlockDevice/);
    await refused(gzipSync(tarOf([{ path: 'pipe', type: 'FIFO' }])), 'tgz', /"pipe" is of the type FIFO/);
    await refused(zipOf([{ name: 'ok.txt', body: 'ok' }, { name: 'passwd', body: '/etc/passwd', mode: 0o120777 }]), 'zip', /"passwd" is a symbolic link/);
    await refused(zipOf([{ name: 'tty', mode: 0o020666 }]), 'zip', /"tty" is a device or other special file/);
  });

  it('refuses a path that would be both a file and a folder, and a file written twice', async () => {
    await refused(tarOf([{ path: 'a', body: 'x' }, { path: 'a/b', body: 'y' }]), 'tar', /"a\/b" lies under a file/);
    await refused(zipOf([{ name: 'a/b', body: 'y' }, { name: 'a', body: 'x' }]), 'zip', /"a" appears twice \(as a folder and as a file\)/);
    await refused(zipOf([{ name: 'dir/', mode: 0o040755 }, { name: './dir', body: 'x' }]), 'zip', /"\.\/dir" appears twice/);
    await refused(gzipSync(tarOf([{ path: 'x.txt', body: '1' }, { path: './x.txt', body: '2' }])), 'tgz', /"\.\/x\.txt" appears twice \(as a file and as a file\)/);
  });

  it('refuses more entries than the limit', async () => {
    const small: ArchiveLimits = { ...DEFAULT_LIMITS, maxEntries: 3 };
    const four = ['a', 'b', 'c', 'd'];
    await refused(zipOf(four.map((x) => ({ name: x, body: x }))), 'zip', /more than 3 entries/, { limits: small });
    await refused(gzipSync(tarOf(four.map((x) => ({ path: x, body: x })))), 'tgz', /more than 3 entries/, { limits: small });
    await refused(tarOf(four.map((x) => ({ path: x, body: x }))), 'tar', /more than 3 entries/, { limits: small });
    // Three entries whose paths imply more than three folders.
    await refused(zipOf([{ name: 'a/b/c/d/e.txt', body: 'e' }]), 'zip', /make more than 3 folders/, { limits: small });
  });

  it('refuses a zip bomb from its declared sizes alone, without inflating anything', async () => {
    // 3 × 4 GB declared: past the 8 GB limit (ratio allowed).
    const huge = ['x', 'y', 'z'].map((name) => ({ name, body: 'tiny', deflate: true, declaredSize: 0xfffffff0 }));
    await refused(zipOf(huge), 'zip', /expands to more than 8192 MB/, { limits: { ...DEFAULT_LIMITS, maxRatio: 1e12 } });
    // One 4 GB entry in a file of a hundred bytes: a compression bomb by the default ratio.
    await refused(zipOf(huge.slice(0, 1)), 'zip', /expands more than 1000 times its own size, a compression bomb/);
    await refused(zipOf([{ name: 'big', body: 'x', deflate: true, declaredSize: 2000 }]), 'zip', /expands to more than 1000 bytes \(at its entry "big"/, { limits: { ...DEFAULT_LIMITS, maxExpandedBytes: 1000 } });
  });

  it('stops a zip whose entries inflate past what they declare, and one whose data does not match its CRC', async () => {
    const liar = zipOf([{ name: 'ok.txt', body: 'fine', deflate: true }, { name: 'liar', body: Buffer.alloc(4 * 1024 * 1024, 1), deflate: true, declaredSize: 10 }]);
    // Inspection reads declared sizes only: the lie is seen when the data is read.
    assert.deepEqual(await inspectArchive(save(liar, '.zip'), 'zip'), { entries: 2, files: 2, expandedBytes: 14 });
    await refused(liar, 'zip', /"liar" inflates past the 10 bytes it declares/, { inspect: false });
    const short = zipOf([{ name: 'short', body: 'abc', deflate: true, declaredSize: 100 }]);
    await refused(short, 'zip', /"short" cannot be read \(not enough bytes/, { inspect: false });
    const bad = zipOf([{ name: 'ok.txt', body: 'fine' }, { name: 'bad.txt', body: 'corrupted', crc: 12345 }]);
    await refused(bad, 'zip', /"bad\.txt" is corrupt \(its CRC-32 does not match\)/, { inspect: false });
  });

  it('refuses zip entries it cannot read: encrypted, or compressed by another method', async () => {
    await refused(zipOf([{ name: 'secret.txt', body: 'xxxxxxxxxxxxxxx', deflate: true, flags: 1 }]), 'zip', /"secret\.txt" is encrypted/);
    await refused(zipOf([{ name: 'b.txt', body: 'BZh9', method: 12 }]), 'zip', /"b\.txt" uses compression method 12/);
  });

  it('refuses a tar.gz bomb by the bytes it expands to', async () => {
    // 80 MiB of zeros in a gzip of about 80 KB.
    const zeros = gzipSync(tarOf([{ path: 'zeros', body: Buffer.alloc(80 * 1024 * 1024) }]));
    assert.ok(zeros.length < 200_000);
    const limits = { ...DEFAULT_LIMITS, maxExpandedBytes: 50 * 1024 * 1024, maxRatio: 1e9 };
    await refused(zeros, 'tgz', /expands to more than 50 MB \(at its entry "zeros"; the packages\.max_expanded_mb setting\)/, { limits });
    await refused(zeros, 'tgz', /expands more than 1000 times its own size, a compression bomb/);
    // Six entries of 10 MiB each: each fits, their sum does not (counted as they are read).
    const six = gzipSync(tarOf([0, 1, 2, 3, 4, 5].map((i) => ({ path: `z${i}`, body: Buffer.alloc(10 * 1024 * 1024) }))));
    await refused(six, 'tgz', /expands to more than 50 MB \(at its entry "z5"/, { limits });
  });

  it('refuses truncated archives', async () => {
    const files = [{ path: 'a.txt', body: Buffer.alloc(200_000, 'a') }, { path: 'b.txt', body: Buffer.alloc(200_000, 'b') }];
    const tgz = gzipSync(tarOf(files));
    await refused(tgz.subarray(0, Math.floor(tgz.length / 2)), 'tgz', /its gzip data is corrupt or cut short: unexpected end of file/);
    const plain = tarOf(files);
    await refused(plain.subarray(0, 100_000), 'tar', /it is truncated \(its entry "a\.txt" ends early\)/);
    // Cut between two entries: only the missing end-of-archive marker tells.
    await refused(plain.subarray(0, 512 + 200_192), 'tar', /it is truncated \(the tar archive has no end-of-archive marker\)/);
    const zip = zipOf(files.map((f) => ({ name: f.path, body: f.body, deflate: true })));
    await refused(zip.subarray(0, zip.length - 30), 'zip', /it is not a readable zip archive/);
    await refused(zip.subarray(0, Math.floor(zip.length / 2)), 'zip', /it is not a readable zip archive/);
  });

  it('refuses corrupt archives', async () => {
    const tgz = gzipSync(tarOf([{ path: 'a.txt', body: Buffer.alloc(300_000, 'a') }, { path: 'b.txt', body: Buffer.from('b'.repeat(300_000)) }]));
    const flipped = Buffer.from(tgz);
    const mid = Math.floor(flipped.length / 2);
    for (let i = mid; i < mid + 16; i++) flipped[i] = flipped[i]! ^ 0xff;
    await refused(flipped, 'tgz', /it is not a readable tar archive/);
    // The data intact but the gzip's CRC wrong: only the trailer tells.
    const badCrc = Buffer.from(tgz);
    badCrc[badCrc.length - 8] = badCrc[badCrc.length - 8]! ^ 0xff;
    await refused(badCrc, 'tgz', /its gzip data is corrupt or cut short: incorrect data check/);
    const header = tarOf([{ path: 'a.txt', body: 'a' }]);
    header[10] = 0x41; // inside the name: the header checksum no longer matches
    await refused(header, 'tar', /not a readable tar archive \(TAR_ENTRY_INVALID: checksum failure\)/);
    // A tar.gz inside a gzip: refused rather than inflated twice.
    await refused(gzipSync(tgz), 'tgz', /it is compressed twice/);
  });

  it('refuses files that are not archives', async () => {
    const text = Buffer.from('this is plain text, not an archive at all; '.repeat(40));
    await refused(text, 'zip', /it is not a readable zip archive \(end of central directory record signature not found/i);
    await refused(text, 'tar', /it is not a readable tar archive/);
    await refused(text, 'tgz', /it is not a readable tar archive/);
    await refused(Buffer.alloc(0), 'zip', /it is not a readable zip archive/);
    await refused(Buffer.alloc(0), 'tgz', /it is not a readable tar archive/);
    await refused(zipOf([{ name: 'a.txt', body: 'a' }]), 'tgz', /it is not a readable tar archive/);
  });

  it('extracts only into an empty folder, and leaves a folder that was not empty as it was', async () => {
    const f = save(zipOf([{ name: 'a.txt', body: 'a' }]), '.zip');
    const dest = await emptyDest();
    writeFileSync(join(dest, 'mine.txt'), 'mine');
    await assert.rejects(extractArchive(f, 'zip', dest), /is not empty/);
    assert.deepEqual(readdirSync(dest), ['mine.txt']);
  });
});
