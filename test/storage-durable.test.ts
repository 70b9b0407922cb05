// The sink a push writes its file through: every byte lands, in order, across partial writes and
// the flushes it starts while data is still coming; it never writes over an existing name.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { DurableFileSink, syncFolder } from '../src/storage/durableFile.js';
import { tempDir } from './helpers.js';

describe('durable file sink', () => {
  const dir = tempDir('cuttle-durable-');

  it('writes every byte of a stream past several flush points, in order', async () => {
    // 150 MB in chunks of awkward sizes (the sink flushes every 64 MB while it writes).
    const sizes = [1, 65_535, 1_048_577, 4096, 333_333];
    const hash = createHash('sha1');
    let total = 0;
    let i = 0;
    function* chunks(): Generator<Buffer> {
      while (total < 150 * 1024 * 1024) {
        const b = Buffer.alloc(sizes[i % sizes.length]!, i % 251);
        i++;
        total += b.length;
        hash.update(b);
        yield b;
      }
    }
    const file = join(dir, 'big.bin');
    await pipeline(Readable.from(chunks()), new DurableFileSink(file, 0o640));
    const written = readFileSync(file);
    assert.equal(written.length, total);
    assert.equal(createHash('sha1').update(written).digest('hex'), hash.digest('hex'));
    await syncFolder(dir);
    await syncFolder(join(dir, 'no-such-folder'));
  });

  it('refuses to write over an existing file, which stays as it was', async () => {
    const file = join(dir, 'taken.bin');
    writeFileSync(file, 'keep me');
    await assert.rejects(pipeline(Readable.from([Buffer.from('overwrite')]), new DurableFileSink(file, 0o640)), /EEXIST/);
    assert.equal(readFileSync(file, 'utf8'), 'keep me');
  });

  it('closes its file when the stream it writes fails part way', async () => {
    const file = join(dir, 'broken.bin');
    function* failing(): Generator<Buffer> {
      yield Buffer.alloc(1024, 1);
      throw new Error('the client went away');
    }
    const openOn = () => readdirSync('/proc/self/fd').filter((fd) => { try { return readlinkSync(`/proc/self/fd/${fd}`) === file; } catch { return false; } }).length;
    const sink = new DurableFileSink(file, 0o640);
    const closed = new Promise((resolve) => sink.once('close', resolve));
    await assert.rejects(pipeline(Readable.from(failing()), sink), /went away/);
    await closed;
    assert.equal(openOn(), 0, 'no descriptor is left open on the file');
  });
});
