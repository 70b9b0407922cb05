// Listing a task's log files and reading them line by line in bounded chunks, forwards or
// backwards. Every reader of the log goes through here, so none ever holds a whole file.
import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { attemptIndexName, attemptLogName, taskLogDir } from './logFormat.js';

export interface LogFile {
  readonly name: string;
  readonly attempt: number;
  readonly kind: 'attempt' | 'recovery';
  readonly path: string;
  /** The sidecar index (attempt files only). */
  readonly indexPath: string | undefined;
  /** A log kept in the task's row (migration 012) rather than in this file: its whole text. */
  readonly data?: Buffer;
}

/** What the readers need of an open log: a file, or a log kept in the task's row. */
export interface LogHandle {
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  stat(): Promise<{ size: number }>;
  close(): Promise<void>;
}

/** The last attempt's log, when it is kept in the task's row. */
export interface InlineLog {
  readonly attempt: number;
  readonly text: string;
}

/** The task's row, as far as its log's whereabouts go. */
export function inlineLogOf(t: { readonly attempt: number; readonly inlineLog: string | null }): InlineLog | undefined {
  return t.inlineLog === null ? undefined : { attempt: t.attempt, text: t.inlineLog };
}

const FILE_RE = /^(attempt|recovery)-(\d+)\.log$/;

/**
 * A task's log files in reading order: attempt 1, what recovery said about it, attempt 2, … — with
 * the attempt whose log is kept in the task's row (`inline`) among them.
 */
export async function listLogFiles(taskLogs: string, taskId: string, inline?: InlineLog): Promise<LogFile[]> {
  const dir = taskLogDir(taskLogs, taskId);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    names = [];
  }
  const files = listed(dir, names);
  if (inline && !files.some((f) => f.kind === 'attempt' && f.attempt === inline.attempt)) {
    const name = attemptLogName(inline.attempt);
    files.push({ name, attempt: inline.attempt, kind: 'attempt', path: `${join(dir, name)} (kept in the database)`, indexPath: undefined, data: Buffer.from(inline.text, 'utf8') });
  }
  return files.sort((a, b) => a.attempt - b.attempt || (a.kind === 'attempt' ? -1 : 1));
}

function listed(dir: string, names: readonly string[]): LogFile[] {
  return names.flatMap((n) => {
    const m = FILE_RE.exec(n);
    if (!m) return [];
    const attempt = Number(m[2]);
    const kind = m[1] as 'attempt' | 'recovery';
    return [{ name: n, attempt, kind, path: join(dir, n), indexPath: kind === 'attempt' ? join(dir, attemptIndexName(attempt)) : undefined }];
  });
}

/** One read's worth of complete lines: line i is buf[starts[i], ends[i]) (no newline), at file offset base + starts[i]. */
export interface LineChunk {
  readonly buf: Buffer;
  readonly base: number;
  readonly starts: number[];
  readonly ends: number[];
}

/** Bytes per read. */
export const CHUNK = 256 * 1024;
// A record is at most two capped texts, escaped; anything longer is not one of ours and is skipped.
const MAX_LINE = 2 * 1024 * 1024;

/** Opens a log for reading; undefined when its file is gone (retention removed it meanwhile). */
export async function openLog(file: LogFile): Promise<LogHandle | undefined> {
  if (file.data) return memoryHandle(file.data);
  try {
    return await open(file.path, 'r');
  } catch {
    return undefined;
  }
}

function memoryHandle(data: Buffer): LogHandle {
  return {
    read: (buffer, offset, length, position) => {
      const bytesRead = Math.max(0, Math.min(length, data.length - position));
      if (bytesRead > 0) data.copy(buffer, offset, position, position + bytesRead);
      return Promise.resolve({ bytesRead });
    },
    stat: () => Promise.resolve({ size: data.length }),
    close: () => Promise.resolve(),
  };
}

function splitLines(buf: Buffer, from: number, to: number, starts: number[], ends: number[]): number {
  let s = from;
  for (;;) {
    const nl = buf.indexOf(0x0a, s);
    if (nl < 0 || nl >= to) return s;
    if (nl > s) { starts.push(s); ends.push(nl); }
    s = nl + 1;
  }
}

/**
 * The complete lines of [from, to), in order, one chunk at a time. `from` must be a line start. A
 * last line without its newline (being written, or torn by a crash) is not returned. The chunk's
 * buffer is reused: use it before asking for the next chunk.
 */
export async function* forwardChunks(fh: LogHandle, from: number, to: number): AsyncGenerator<LineChunk> {
  let buf = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(1, to - from)));
  let carry = 0; // bytes of an unfinished line at the start of buf
  let pos = from;
  let skipping = false; // inside an over-long line: drop bytes until its newline
  while (pos < to) {
    if (carry === buf.length) {
      if (buf.length >= MAX_LINE) { carry = 0; skipping = true; }
      else { const bigger = Buffer.allocUnsafe(Math.min(buf.length * 2, MAX_LINE)); buf.copy(bigger, 0, 0, carry); buf = bigger; }
    }
    const want = Math.min(buf.length - carry, to - pos);
    const { bytesRead } = await fh.read(buf, carry, want, pos);
    if (bytesRead === 0) return;
    const filled = carry + bytesRead;
    const base = pos - carry;
    pos += bytesRead;
    let first = 0;
    if (skipping) {
      const nl = buf.indexOf(0x0a, 0);
      if (nl < 0 || nl >= filled) { carry = 0; continue; }
      skipping = false;
      first = nl + 1;
    }
    const starts: number[] = [];
    const ends: number[] = [];
    const rest = splitLines(buf, first, filled, starts, ends);
    if (starts.length) yield { buf, base, starts, ends };
    carry = filled - rest;
    buf.copy(buf, 0, rest, filled);
  }
}

/**
 * The complete lines of [lo, hi), newest chunk first (lines within a chunk in file order). Both
 * bounds must be line starts (hi may be the end of the last complete line). Same buffer rule.
 */
export async function* backwardChunks(fh: LogHandle, lo: number, hi: number): AsyncGenerator<LineChunk> {
  let buf = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(1, hi - lo)) * 2);
  let carry = Buffer.alloc(0); // the head of the chunk above, before its first newline
  let pos = hi;
  while (pos > lo) {
    const len = Math.min(CHUNK, pos - lo);
    if (len + carry.length > buf.length) {
      if (carry.length > MAX_LINE) { carry = Buffer.alloc(0); } // an over-long line: dropped
      buf = Buffer.allocUnsafe(len + carry.length);
    }
    const start = pos - len;
    const { bytesRead } = await fh.read(buf, 0, len, start);
    if (bytesRead < len) return; // the file shrank: it was replaced; stop rather than misread
    carry.copy(buf, len);
    const filled = len + carry.length;
    pos = start;
    // Unless we are at lo, the bytes before the first newline belong to a line that starts lower.
    let first = 0;
    if (start > lo) {
      const nl = buf.indexOf(0x0a, 0);
      if (nl < 0 || nl >= filled) { carry = Buffer.from(buf.subarray(0, filled)); continue; }
      first = nl + 1;
      carry = Buffer.from(buf.subarray(0, first));
    } else {
      carry = Buffer.alloc(0);
    }
    const starts: number[] = [];
    const ends: number[] = [];
    splitLines(buf, first, filled, starts, ends);
    if (starts.length) yield { buf, base: start, starts, ends };
  }
}
