// A 1 GB package pushed and downloaded through a real node: memory stays flat (the node's peak
// resident set, read from /proc, grows by far less than the package), and the bytes come back intact.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { truncate } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import * as tar from 'tar';
import { ADMIN_API_KEY, api, readyCluster, startNode, tempDir, type NodeProcess, type TestCluster } from './helpers.js';

const SIZE = 1024 * 1024 * 1024;

/** The node's peak and current resident set, in MB. */
function memory(pid: number): { peak: number; now: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)![1]);
  return { peak: kb('VmHWM') / 1024, now: kb('VmRSS') / 1024 };
}

async function sha1File(path: string): Promise<string> {
  const h = createHash('sha1');
  for await (const c of createReadStream(path)) h.update(c as Buffer);
  return h.digest('hex');
}

describe('a 1 GB package', () => {
  let cluster: TestCluster;
  let node: NodeProcess;
  let file: string;

  before(async () => {
    cluster = await readyCluster(['big']);
    node = await startNode(cluster.homes[0]!, 'big');
    const dir = tempDir('cuttle-big-');
    // One 1 GB entry (sparse on disk while it is packed), and a small one beside it.
    writeFileSync(join(dir, 'blob.bin'), '');
    await truncate(join(dir, 'blob.bin'), SIZE);
    writeFileSync(join(dir, 'Deploy.sh'), 'echo big\n');
    file = join(dir, 'Big.1.0.0.tar');
    await tar.create({ file, cwd: dir }, ['blob.bin', 'Deploy.sh']);
    rmSync(join(dir, 'blob.bin'));
  });
  after(async () => { await node.kill('SIGTERM'); });

  it('is pushed and downloaded with the node\'s memory flat', async () => {
    const pid = node.child.pid!;
    const size = statSync(file).size;
    // Warm the paths once with a small request, then take the baseline.
    assert.equal((await api(node.url, '/api/Spaces-1/packages', { apiKey: ADMIN_API_KEY })).status, 200);
    const baseline = memory(pid);

    const boundary = '----cuttlebig';
    const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="fileToUpload"; filename="Big.1.0.0.tar"\r\nContent-Type: application/x-tar\r\n\r\n`);
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${node.url}/api/Spaces-1/packages/raw`, {
        method: 'POST',
        headers: { 'X-Octopus-ApiKey': ADMIN_API_KEY, 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': head.length + size + tail.length },
      }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode ?? 0)); });
      req.on('error', reject);
      req.write(head);
      const body = createReadStream(file);
      body.on('end', () => req.end(tail));
      body.pipe(req, { end: false });
    });
    assert.equal(status, 201);
    const afterUpload = memory(pid);

    const pkg = (await api(node.url, '/api/Spaces-1/packages?filter=Big', { apiKey: ADMIN_API_KEY })).body.Items[0];
    assert.equal(pkg.PackageSizeBytes, size);
    const downloaded = join(tempDir('cuttle-big-down-'), 'Big.tar');
    const res = await fetch(`${node.url}/api/Spaces-1/packages/${pkg.Id}/raw`, { headers: { 'X-Octopus-ApiKey': ADMIN_API_KEY } });
    assert.equal(res.status, 200);
    assert.equal(Number(res.headers.get('content-length')), size);
    await pipeline(res.body!, createWriteStream(downloaded));
    const afterDownload = memory(pid);
    assert.equal(await sha1File(downloaded), await sha1File(file), 'the same bytes came back');
    assert.equal(pkg.Hash, await sha1File(file), 'the feed hashed what it stored');

    const grew = afterDownload.peak - baseline.peak;
    process.stdout.write(`# 1 GB push and download: node peak RSS ${baseline.peak.toFixed(0)} MB before, ${afterUpload.peak.toFixed(0)} MB after the push, ${afterDownload.peak.toFixed(0)} MB after the download\n`);
    assert.ok(grew < 150, `the node's peak resident set grew by ${grew.toFixed(0)} MB for a 1 GB package`);
  });
});
