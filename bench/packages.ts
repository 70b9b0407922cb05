// bench/packages: the built-in feed's streaming, side by side with the file system and with a bare
// Node.js server in one run. A package of 10 MB, 100 MB and 1 GB is pushed through the API
// (multipart, as the official client sends it) and downloaded again, with curl as the client where
// it is installed (node:http otherwise); beside it, in the same rounds: `cp` of the same file on the
// same disk (the kernel copies page-cache pages, copy_file_range: no byte enters user space), `cp`
// followed by an fsync of the copy (what a push guarantees before it answers: the file is on disk),
// and the same transfers against lib/transferReference, a node:http server that only hashes and
// writes (push) or streams the file (download): the most any Node.js server can do on this machine.
// Every measure starts after `sync`; each side's fastest of BENCH_RUNS rounds is compared (medians
// beside). SHA-1 over the file alone is measured too: the hash a push must compute bounds it. The node's peak
// resident set is read from /proc. Then a package of 10,000 small files is extracted by Cuttle's
// extraction (the package step's) against `tar -x` of the same file. Prints one JSON document.
//   npm run bench:packages     BENCH_QUICK=1: 10 MB and 100 MB, one round, 2,000 files; BENCH_SIZES=1024 picks sizes
import { execFile, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { get, request } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
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

/** How the bench speaks HTTP: curl where installed (what a build server's script uses), else node:http. */
interface Client {
  readonly name: string;
  /** POSTs `file` as the multipart field fileToUpload named `name`; the answer's status. */
  upload(url: string, file: string, name: string): Promise<number>;
  /** GETs `url` into the file `to`; the answer's status. */
  download(url: string, to: string): Promise<number>;
}

const execFileAsync = promisify(execFile);
const run = async (cmd: string, args: string[]): Promise<string> => (await execFileAsync(cmd, args, { maxBuffer: 1024 * 1024 })).stdout;

const curl: Client = {
  name: 'curl',
  upload: async (url, file, name) => Number(await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-H', `X-Octopus-ApiKey: ${API_KEY}`, '-F', `fileToUpload=@${file};filename=${name};type=application/x-tar`, url])),
  download: async (url, to) => Number(await run('curl', ['-s', '-o', to, '-w', '%{http_code}', '-H', `X-Octopus-ApiKey: ${API_KEY}`, url])),
};

const nodeHttp: Client = {
  name: 'node:http',
  upload: (url, file, name) => {
    const boundary = '----cuttlebench';
    const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="fileToUpload"; filename="${name}"\r\nContent-Type: application/x-tar\r\n\r\n`);
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    const size = statSync(file).size;
    return new Promise((resolve, reject) => {
      const req = request(url, {
        method: 'POST', headers: { 'X-Octopus-ApiKey': API_KEY, 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': head.length + size + tail.length },
      }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode ?? 0)); });
      req.on('error', reject);
      req.write(head);
      const body = createReadStream(file, { highWaterMark: MB });
      body.on('end', () => req.end(tail));
      body.pipe(req, { end: false });
    });
  },
  download: (url, to) => new Promise((resolve, reject) => {
    get(url, { headers: { 'X-Octopus-ApiKey': API_KEY } }, (res) => {
      pipeline(res, createWriteStream(to)).then(() => resolve(res.statusCode ?? 0), reject);
    }).on('error', reject);
  }),
};

function haveCurl(): boolean {
  try { execFileSync('curl', ['--version'], { stdio: 'ignore' }); return true; } catch { return false; }
}

/** The plain node:http server of lib/transferReference, in its own process. */
async function startReference(dir: string): Promise<{ url: string; stop: () => void }> {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./lib/transferReference.js', import.meta.url)), dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.setEncoding('utf8');
    child.stdout.once('data', (line: string) => resolve(Number(/listening (\d+)/.exec(line)?.[1])));
    child.once('exit', (code) => reject(new Error(`the reference server exited (${code})`)));
  });
  return { url: `http://127.0.0.1:${port}`, stop: () => child.kill('SIGKILL') };
}

/** Writes back every dirty page first, so that one measure never pays for the writes of the one before. */
function settle(): void { execFileSync('sync'); }

/** {@link timedAsync} after {@link settle}. */
async function timedMs(fn: () => Promise<unknown> | void): Promise<number> {
  settle();
  return timedAsync(async () => { await fn(); });
}

const medianOfList = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

async function transfers(n: Node, dir: string, client: Client, reference: string): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for (const mb of SIZES) {
    // One entry of random bytes (not compressible, as real build output mostly is not).
    const src = join(dir, 'blob.bin');
    const chunk = Buffer.alloc(MB);
    const ws = createWriteStream(src);
    for (let i = 0; i < mb; i++) { for (let j = 0; j < MB; j += 4) chunk.writeUInt32LE((Math.random() * 0xffffffff) >>> 0, j); if (!ws.write(Buffer.from(chunk))) await new Promise<void>((r) => { ws.once('drain', () => r()); }); }
    await new Promise<void>((r) => { ws.end(() => r()); });
    const name = `Bench${mb}.1.0.0.tar`;
    const file = join(dir, name);
    await tar.create({ file, cwd: dir }, ['blob.bin']);
    rmSync(src);
    const size = statSync(file).size;
    const copy = join(dir, 'copy.tar');
    const pid = n.child.pid!;
    const before = peakMb(pid);
    // Each side's time per round, in ms, under the name the JSON reports it by.
    const t = {
      cuttle_push: [] as number[], cuttle_download: [] as number[], reference_node_http_push: [] as number[], reference_node_http_download: [] as number[],
      cp: [] as number[], cp_then_fsync: [] as number[], sha1_alone: [] as number[],
    };
    let afterUp = before;
    const expect = (what: string, status: number, want: number) => { if (status !== want) throw new Error(`${what} of ${mb} MB answered ${status}`); };
    const downloaded = () => { if (statSync(copy).size !== size) throw new Error('the download is not the size of the package'); rmSync(copy); };
    // Each round measures every side once, in turn, so that the machine's drift falls on all of them.
    for (let r = 0; r < config.runs; r++) {
      t.cp.push(await timedMs(() => { execFileSync('cp', [file, copy]); }));
      rmSync(copy);
      t.cp_then_fsync.push(await timedMs(() => { execFileSync('cp', [file, copy]); execFileSync('sync', [copy]); }));
      rmSync(copy);
      // What the hash a push must compute allows by itself: SHA-1 over the file, read from the page cache.
      t.sha1_alone.push(await timedMs(async () => { const h = createHash('sha1'); for await (const b of createReadStream(file, { highWaterMark: MB })) h.update(b as Buffer); h.digest(); }));
      t.cuttle_push.push(await timedMs(async () => expect('push', await client.upload(`${n.url}/api/Spaces-1/packages/raw?overwriteMode=OverwriteExisting`, file, name), 201)));
      afterUp = Math.max(afterUp, peakMb(pid));
      t.cuttle_download.push(await timedMs(async () => expect('download', await client.download(`${n.url}/api/Spaces-1/packages/packages-Bench${mb}.1.0.0/raw`, copy), 200)));
      downloaded();
      t.reference_node_http_push.push(await timedMs(async () => expect('reference push', await client.upload(`${reference}/`, file, name), 201)));
      t.reference_node_http_download.push(await timedMs(async () => expect('reference download', await client.download(`${reference}/`, copy), 200)));
      rmSync(copy);
    }
    const afterDown = peakMb(pid);
    rmSync(file);
    // Each side's fastest round (the machine's noise only ever slows a run down: `cp` of 1 GB took
    // 0.17 s in one round and 1.1 s in the next here), and the median beside it.
    const best = (ms: number[]) => round(size / MB / (Math.min(...ms) / 1000), 0);
    const mid = (ms: number[]) => round(size / MB / (medianOfList(ms) / 1000), 0);
    const each = (f: (ms: number[]) => number) => Object.fromEntries(Object.entries(t).map(([k, v]) => [k, f(v)])) as Record<keyof typeof t, number>;
    const speed = each(best);
    out.push({
      size_mb: mb,
      rounds: config.runs,
      mb_per_s: speed,
      median_mb_per_s: each(mid),
      runs_ms: Object.fromEntries(Object.entries(t).map(([k, v]) => [k, v.map((x) => round(x, 0))])),
      upload_vs_cp: round(speed.cuttle_push / speed.cp), download_vs_cp: round(speed.cuttle_download / speed.cp),
      upload_vs_cp_then_fsync: round(speed.cuttle_push / speed.cp_then_fsync),
      upload_vs_reference: round(speed.cuttle_push / speed.reference_node_http_push), download_vs_reference: round(speed.cuttle_download / speed.reference_node_http_download),
      reference_vs_cp: {
        push: round(speed.reference_node_http_push / speed.cp), download: round(speed.reference_node_http_download / speed.cp),
        push_vs_cp_then_fsync: round(speed.reference_node_http_push / speed.cp_then_fsync),
      },
      sha1_alone_vs_cp: round(speed.sha1_alone / speed.cp),
      node_peak_rss_mb: { before: round(before, 0), after_uploads: round(afterUp, 0), after_downloads: round(afterDown, 0) },
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
  // Beside the cluster's shared folder (both under the temp folder): the same disk for cp, the feed and the reference.
  const dir = join(tmpdir(), `cuttle-bench-packages-${process.pid}`);
  await mkdir(dir, { recursive: true });
  const refDir = join(dir, 'reference');
  await mkdir(refDir);
  const reference = await startReference(refDir);
  const client = haveCurl() ? curl : nodeHttp;
  let out: Record<string, unknown>;
  try {
    const [n] = await c.start('b1');
    await c.db.query(`INSERT INTO settings (key, value) VALUES ('packages.max_upload_mb', '4096') ON CONFLICT (key) DO UPDATE SET value = excluded.value`);
    const t = await transfers(n!, dir, client, reference.url);
    const x = await extraction(dir);
    const last = t[t.length - 1]!;
    out = {
      summary: {
        client: client.name,
        transfers: t.map((r) => ({ size_mb: r.size_mb, mb_per_s: r.mb_per_s, upload_vs_cp: r.upload_vs_cp, download_vs_cp: r.download_vs_cp, upload_vs_cp_then_fsync: r.upload_vs_cp_then_fsync, upload_vs_reference: r.upload_vs_reference, download_vs_reference: r.download_vs_reference, sha1_alone_vs_cp: r.sha1_alone_vs_cp, node_peak_rss_mb: r.node_peak_rss_mb })),
        target_80_percent_of_cp: { size_mb: last.size_mb, upload: Number(last.upload_vs_cp) >= 0.8, download: Number(last.download_vs_cp) >= 0.8 },
        extraction: x,
      },
      transfers: t,
      extraction: x,
    };
  } finally {
    reference.stop();
    await c.close();
    rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(JSON.stringify({ ...out, machine: { cpus: cpus().length, loadavg: loadavg().map((v) => round(v)) } }, null, 2) + '\n');
}

await main();
