// The structure of one log file: its blocks, their statuses, how many lines each holds and where
// they lie. From the sidecar index up to its last checkpoint plus a scan of the log after it; from
// a scan of the whole log (structure records parsed, log lines only peeked at) when the index is
// missing or unusable, as for files written before there was one.
import { readFile } from 'node:fs/promises';
import { forwardChunks, type LogFile, type LogHandle } from './logFiles.js';
import { isStructure, isVerbose, parseRecord, peekLine, Segments, type BlockStatus, type IndexRecord, type LineRecord, type StructureRecord } from './logFormat.js';

export interface BlockInfo {
  readonly id: string;
  readonly parent: string;
  readonly name: string;
  readonly started: string | null;
  ended: string | null;
  status: BlockStatus | null;
  /** Own lines (not its children's), and how many of them are Verbose or Trace. */
  own: [number, number];
  segs: Segments;
}

export interface FileIndex {
  readonly file: LogFile;
  /** Where the last complete line ends: readers stop here (a later line is still being written). */
  readonly size: number;
  /** The root (the task's id) first, then blocks in the order they started. */
  readonly blocks: Map<string, BlockInfo>;
  readonly rootId: string;
  /** The writer closed this attempt cleanly. */
  readonly closed: boolean;
  /** When the file's first record was written. */
  readonly firstTime: string | null;
}

// An index larger than this is not trusted to fit in memory; the log is scanned instead.
const MAX_INDEX_BYTES = 32 * 1024 * 1024;

export async function loadIndex(fh: LogHandle, file: LogFile, rootId: string): Promise<FileIndex> {
  const blocks = new Map<string, BlockInfo>();
  const root: BlockInfo = { id: rootId, parent: '', name: '', started: null, ended: null, status: null, own: [0, 0], segs: new Segments() };
  blocks.set(rootId, root);
  const { size } = await fh.stat();
  let closed = false;
  let from = 0;
  if (file.indexPath) {
    const records = await readIndex(file.indexPath);
    // Trusted up to the last checkpoint the log already holds; records after it are read from the log.
    let last = -1;
    records.forEach((r, i) => { if (r.k === 'at' && r.o <= size) last = i; });
    for (let i = 0; i <= last; i++) {
      const r = records[i]!;
      if (r.k === 'at') {
        from = r.o;
        for (const l of r.live) { const b = blocks.get(l.id); if (b) { b.own = l.own; b.segs = new Segments(l.seg); } }
      } else if (r.k === 'close') closed = true;
      else apply(blocks, r, r.k === 'end' ? r.seg : undefined);
    }
  }
  let end = from;
  let firstTime: string | null = null;
  for await (const c of forwardChunks(fh, from, size)) {
    for (let i = 0; i < c.starts.length; i++) {
      const s = c.starts[i]!;
      const e = c.ends[i]!;
      const at = c.base + s;
      end = c.base + e + 1;
      if (isStructure(c.buf, s, e)) {
        const r = parseRecord(c.buf, s, e) as StructureRecord | undefined;
        if (!r) continue;
        firstTime ??= r.t;
        if (r.k === 'close') closed = true;
        else apply(blocks, r, undefined);
        continue;
      }
      const p = peekLine(c.buf, s, e) ?? legacy(c.buf, s, e);
      if (!p) continue;
      firstTime ??= p.t;
      const b = blocks.get(p.b ?? rootId) ?? root;
      b.own[0]++;
      if (isVerbose(p.c)) b.own[1]++;
      b.segs.add(at, end);
    }
  }
  if (from > 0) firstTime = await readFirstTime(fh);
  return { file, size: Math.max(end, from), blocks, rootId, closed, firstTime };
}

// A line in the format before blocks (no "b"): it belongs to the root.
function legacy(buf: Buffer, s: number, e: number): { t: string; c: string; b?: string } | undefined {
  const r = parseRecord(buf, s, e) as LineRecord | undefined;
  return r && typeof r.c === 'string' ? { t: r.t, c: r.c, b: r.b } : undefined;
}

function apply(blocks: Map<string, BlockInfo>, r: StructureRecord, seg: [number, number][] | undefined): void {
  if (r.k === 'start') {
    if (!blocks.has(r.id)) blocks.set(r.id, { id: r.id, parent: r.p, name: r.n, started: r.t, ended: null, status: null, own: [0, 0], segs: new Segments() });
  } else if (r.k === 'end') {
    let b = blocks.get(r.id);
    if (!b) { b = { id: r.id, parent: r.p, name: r.n, started: null, ended: null, status: null, own: [0, 0], segs: new Segments() }; blocks.set(r.id, b); }
    b.ended = r.t;
    b.status = r.s;
    if (Array.isArray(r.own)) b.own = [r.own[0], r.own[1]];
    if (seg) b.segs = new Segments(seg);
  }
}

async function readIndex(path: string): Promise<IndexRecord[]> {
  let text: string;
  try {
    const buf = await readFile(path);
    if (buf.length > MAX_INDEX_BYTES) return [];
    text = buf.toString('utf8');
  } catch {
    return [];
  }
  const out: IndexRecord[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try { out.push(JSON.parse(line) as IndexRecord); } catch { /* a torn last line */ }
  }
  return out;
}

async function readFirstTime(fh: LogHandle): Promise<string | null> {
  const buf = Buffer.alloc(512);
  const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
  const m = /^\{(?:"k":"\w+",)?"t":"([^"\\]+)"/.exec(buf.toString('latin1', 0, bytesRead));
  return m ? m[1]! : null;
}

/** Whether the file's last complete line is the writer's close record (reads only the file's end). */
export async function endsClosed(fh: LogHandle): Promise<boolean> {
  const { size } = await fh.stat();
  const len = Math.min(size, 256);
  if (len === 0) return false;
  const buf = Buffer.alloc(len);
  await fh.read(buf, 0, len, size - len);
  const text = buf.toString('latin1');
  return /\{"k":"close","t":"[^"]*"\}\n$/.test(text);
}
