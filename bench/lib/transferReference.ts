// The least a Node.js server must do to take a package and give it back, for bench:packages to set
// beside the feed: node:http and nothing else. POST: the whole body (multipart framing included,
// unparsed) hashed with SHA-1 and written to a file that is fsynced before the answer; GET: that
// file streamed back with its length. No database, no inspection, no checks. Run as its own process:
//   node transferReference.js <folder>     prints "listening <port>" once it accepts connections
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

const dir = process.argv[2];
if (!dir) throw new Error('usage: transferReference <folder>');
const file = join(dir, 'reference.bin');

const server = createServer((req, res) => {
  if (req.method === 'GET') {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': statSync(file).size });
    pipeline(createReadStream(file, { highWaterMark: 1024 * 1024 }), res).catch(() => res.destroy());
    return;
  }
  const hash = createHash('sha1');
  const measure = new Transform({ highWaterMark: 1024 * 1024, transform(chunk: Buffer, _enc, done) { hash.update(chunk); done(null, chunk); } });
  pipeline(req, measure, createWriteStream(file, { highWaterMark: 1024 * 1024, flush: true })).then(
    () => res.writeHead(201, { 'content-type': 'text/plain' }).end(hash.digest('hex')),
    (err: Error) => res.writeHead(500).end(err.message),
  );
});
server.listen(0, '127.0.0.1', () => {
  const a = server.address();
  process.stdout.write(`listening ${typeof a === 'object' && a ? a.port : 0}\n`);
});
