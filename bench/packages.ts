// bench/packages: the built-in feed's streaming, side by side with the file system in one run. A
// package of 10 MB, 100 MB and 1 GB is pushed through the API (multipart, as the official client
// sends it) and downloaded again, against `cp` of the same file on the same disk; the node's peak
// resident set is read from /proc. Then a package of 10,000 small files is extracted by Cuttle's
// extraction (the package step's) against `tar -x` of the same file. Prints one JSON document.
//   npm run bench:packages                 BENCH_QUICK=1: 10 MB and 100 MB, 2,000 files
import { execFileSync } from 'node:child_process';
import { createReadStream, createWriteStream, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { get, request } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar';
import { extractArchive } from '../src/packages/archive.js';
import { API_KEY, Cluster, type Node } from './lib/cluster.js';
import { config } from './lib/config.js';
import { round } from './lib/util.js';

const MB = 1024 * 1024;
const SIZES = process.env.BENCH_SIZES ? process.env.BENCH_SIZES.split(',').map(Number) : config.quick ? [10, 100] : [10, 100, 1024];
const SMALL_FILES = config.quick ? 2000 : 10_000;

function peakMb(pid: number): number {
  return Number(/^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
}

function timed(fn: () => void): number {
  const t = performance.now();
  fn();
  return performance.now() - t;
}

async function timedAsync(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

function upload(n: Node, file: string, name: string): Promise<number> {
  const boundary = '----cuttlebench';
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="fileToUpload"; filename="${name}"\r\nContent-Type: application/x-tar\r\n\r\n`);
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const size = statSync(file).size;
  return new Promise((resolve, reject) => {
    const req = request(`${n.url}/api/Spaces-1/packages/raw`, {
      method: 'POST', headers: { 'X-Octopus-ApiKey': API_KEY, 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': head.length + size + tail.length },
    }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode ?? 0)); });
    req.on('error', reject);
    req.write(head);
    const body = createReadStream(file);
    body.on('end', () => req.end(tail));
    body.pipe(req, { end: false });
  });
}

async function transfers(n: Node, dir: string): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for (const mb of SIZES) {
    // One entry of random bytes (not compressible, as real build output mostly is not).
    const src = join(dir, 'blob.bin');
    const chunk = Buffer.alloc(MB);
    const ws = createWriteStream(src);
    for (let i = 0; i < mb; i++) { for (let j = 0; j < MB; j += 4) chunk.writeUInt32LE((Math.random() * 0xffffffff) >>> 0, j); if (!ws.write(Buffer.from(chunk))) await new Promise<void>((r) => { ws.once('drain', () => r()); }); }
    await new Promise<void>((r) => { ws.end(() => r()); });
    const file = join(dir, `Bench${mb}.1.0.0.tar`);
    await tar.create({ file, cwd: dir }, ['blob.bin']);
    rmSync(src);
    const size = statSync(file).size;
    const pid = n.child.pid!;
    const before = peakMb(pid);
    const copy = join(dir, 'copy.tar');
    const cpUp = timed(() => execFileSync('cp', [file, copy]));
    rmSync(copy);
    let status = 0;
    const up = await timedAsync(async () => { status = await upload(n, file, `Bench${mb}.1.0.0.tar`); });
    if (status !== 201) throw new Error(`push of ${mb} MB answered ${status}`);
    const afterUp = peakMb(pid);
    // node:http rather than fetch: the client's own stream machinery must not be what is measured.
    const down = await timedAsync(() => new Promise<void>((resolve, reject) => {
      get(`${n.url}/api/Spaces-1/packages/packages-Bench${mb}.1.0.0/raw`, { headers: { 'X-Octopus-ApiKey': API_KEY } }, (res) => {
        if (res.statusCode !== 200) { reject(new Error(`download answered ${res.statusCode}`)); return; }
        pipeline(res, createWriteStream(copy)).then(resolve, reject);
      }).on('error', reject);
    }));
    if (statSync(copy).size !== size) throw new Error('the download is not the size of the package');
    const afterDown = peakMb(pid);
    rmSync(copy);
    const cpDown = timed(() => execFileSync('cp', [file, copy]));
    rmSync(copy);
    rmSync(file);
    const mbps = (ms: number) => round(size / MB / (ms / 1000), 1);
    out.push({
      size_mb: mb, upload_mb_per_s: mbps(up), download_mb_per_s: mbps(down), cp_mb_per_s: mbps(cpUp), cp_again_mb_per_s: mbps(cpDown),
      upload_vs_cp: round(cpUp / up), download_vs_cp: round(cpDown / down),
      node_peak_rss_mb: { before: round(before, 0), after_upload: round(afterUp, 0), after_download: round(afterDown, 0) },
    });
    await fetch(`${n.url}/api/Spaces-1/packages/packages-Bench${mb}.1.0.0`, { method: 'DELETE', headers: { 'X-Octopus-ApiKey': API_KEY } });
  }
  return out;
}

async function extraction(dir: string): Promise<Record<string, unknown>> {
  const src = join(dir, 'many');
  for (let i = 0; i < SMALL_FILES; i++) {
    const d = join(src, `d${Math.floor(i / 100)}`);
    if (i % 100 === 0) mkdirSync(d, { recursive: true });
    writeFileSync(join(d, `f${i}.txt`), `file ${i}\n`.repeat(20));
  }
  const file = join(dir, 'Many.1.0.0.tar.gz');
  await tar.create({ gzip: true, file, cwd: src }, ['.']);
  rmSync(src, { recursive: true });
  const runs: { cuttle: number; tar: number }[] = [];
  for (let r = 0; r < (config.quick ? 1 : 3); r++) {
    const a = join(dir, `a${r}`);
    const b = join(dir, `b${r}`);
    await mkdir(a);
    await mkdir(b);
    const cuttle = await timedAsync(() => extractArchive(file, 'tgz', a));
    const cli = timed(() => execFileSync('tar', ['-xzf', file, '-C', b]));
    runs.push({ cuttle, tar: cli });
    rmSync(a, { recursive: true });
    rmSync(b, { recursive: true });
  }
  runs.sort((x, y) => x.cuttle - y.cuttle);
  const m = runs[Math.floor((runs.length - 1) / 2)]!;
  return { files: SMALL_FILES, archive_kb: round(statSync(file).size / 1024, 0), cuttle_ms: round(m.cuttle, 0), tar_x_ms: round(m.tar, 0), cuttle_vs_tar: round(m.tar / m.cuttle) };
}

async function main(): Promise<void> {
  const c = await Cluster.create();
  // Beside the cluster's shared folder (both under the temp folder): the same disk for cp and the feed.
  const dir = join(tmpdir(), `cuttle-bench-packages-${process.pid}`);
  await mkdir(dir, { recursive: true });
  let out: Record<string, unknown>;
  try {
    const [n] = await c.start('b1');
    await c.db.query(`INSERT INTO settings (key, value) VALUES ('packages.max_upload_mb', '4096') ON CONFLICT (key) DO UPDATE SET value = excluded.value`);
    const t = await transfers(n!, dir);
    const x = await extraction(dir);
    out = { summary: { transfers: t.map((r) => ({ size_mb: r.size_mb, upload_vs_cp: r.upload_vs_cp, download_vs_cp: r.download_vs_cp, node_peak_rss_mb: r.node_peak_rss_mb })), extraction: x }, transfers: t, extraction: x };
  } finally {
    await c.close();
    rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(JSON.stringify({ ...out, machine: { cpus: cpus().length, loadavg: loadavg().map((v) => round(v)) } }, null, 2) + '\n');
}

await main();
