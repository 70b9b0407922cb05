// The on-disk format of a task's log, in one place: the writer (log.ts) and every reader
// (logIndex, logDetails, logRaw, logStream) encode and decode through these functions.
//
// Per attempt, in the task's folder under TaskLogs:
//   attempt-K.log  JSON lines, append-only, one writer. Two kinds of record:
//     log line   {"t":ISO,"c":Category,"b":blockId,"m":message,"d"?:detail}
//     structure  {"k":"start","t","id","p":parentId,"n":name}
//                {"k":"end","t","id","p","n","s":status,"own":[lines,verboseLines]}
//                {"k":"close","t"}                       (the writer closed the attempt cleanly)
//     Structure records begin with `{"k":` and log lines with `{"t":`, so a reader that only needs
//     the tree tells them apart from the first bytes without parsing the line. Key order is fixed
//     (JSON.stringify keeps insertion order), which also lets `peekLine` read t, c and b of a log
//     line from its first bytes.
//   attempt-K.idx  the sidecar index, JSON lines written by the same writer after each batch:
//     the structure records with `o` (their byte offset in the .log), end records also with `seg`
//     (the byte ranges holding the block's own lines), and now and then a checkpoint
//     {"k":"at","o":logEnd,"live":[{"id","own","seg"}]} for the blocks still open (the task root
//     always). A reader trusts the index up to its last checkpoint and scans the log after it.
//   recovery-K.log notes recovery wrote about attempt K: log lines of the task root.
// A block's own lines always lie between its start and end records: a write to a block that has
// ended goes to its nearest open ancestor instead.
import { join } from 'node:path';

export const LOG_CATEGORIES = ['Trace', 'Verbose', 'Info', 'Highlight', 'Wait', 'Gap', 'Alert', 'Warning', 'Error', 'Fatal', 'Planned', 'Updated', 'Finished', 'Abandoned'] as const;
export type LogCategory = (typeof LOG_CATEGORIES)[number];
export type BlockStatus = 'Success' | 'SuccessWithWarning' | 'Failed' | 'Skipped' | 'Canceled';

/** Octopus's log element. */
export interface LogElement {
  readonly Category: LogCategory;
  readonly OccurredAt: string;
  readonly MessageText: string;
  readonly Detail: string | null;
}

export interface LineRecord { t: string; c: LogCategory; b?: string; m: string; d?: string }
export interface StartRecord { k: 'start'; t: string; id: string; p: string; n: string }
export interface EndRecord { k: 'end'; t: string; id: string; p: string; n: string; s: BlockStatus; own: [number, number] }
export interface CloseRecord { k: 'close'; t: string }
export type StructureRecord = StartRecord | EndRecord | CloseRecord;
export interface LiveBlock { id: string; own: [number, number]; seg: [number, number][] }
export type IndexRecord =
  | (StartRecord & { o: number })
  | (EndRecord & { o: number; seg: [number, number][] })
  | (CloseRecord & { o: number })
  | { k: 'at'; o: number; live: LiveBlock[] };

/** One element's message (and detail) is cut to this many characters, with a visible marker. */
export const MAX_TEXT = 64 * 1024;

export function lineRecord(t: string, c: LogCategory, b: string, m: string, d: string | null): string {
  return JSON.stringify(d ? { t, c, b, m, d } : { t, c, b, m }) + '\n';
}

// Built field by field so the key order (and so the cheap prefix checks) never depends on a caller.
export function structureRecord(r: StructureRecord): string {
  switch (r.k) {
    case 'start': return JSON.stringify({ k: r.k, t: r.t, id: r.id, p: r.p, n: r.n }) + '\n';
    case 'end': return JSON.stringify({ k: r.k, t: r.t, id: r.id, p: r.p, n: r.n, s: r.s, own: r.own }) + '\n';
    case 'close': return JSON.stringify({ k: r.k, t: r.t }) + '\n';
  }
}

export function isVerbose(c: string): boolean {
  return c === 'Verbose' || c === 'Trace';
}

/** Cuts an over-long text so one huge line cannot blow a reader's memory; says how much went. */
export function capText(text: string): string {
  if (text.length <= MAX_TEXT) return text;
  let cut = MAX_TEXT;
  // Never split a surrogate pair.
  const code = text.charCodeAt(cut - 1);
  if (code >= 0xd800 && code <= 0xdbff) cut--;
  return `${text.slice(0, cut)}… [truncated: ${text.length - cut} more characters]`;
}

// `{"k":` — a structure record.
export function isStructure(buf: Buffer, start: number, end: number): boolean {
  return end - start > 5 && buf[start] === 0x7b && buf[start + 1] === 0x22 && buf[start + 2] === 0x6b && buf[start + 3] === 0x22 && buf[start + 4] === 0x3a;
}

export function isCloseRecord(buf: Buffer, start: number, end: number): boolean {
  return isStructure(buf, start, end) && buf.toString('latin1', start, Math.min(end, start + 14)) === '{"k":"close",';
}

const PEEK = /^\{"t":"([^"\\]*)","c":"([A-Za-z]+)","b":"([^"\\]*)"/;

/**
 * t, c and b of a log line from its first bytes, without parsing it, and how many bytes they take;
 * undefined when the line does not start that way.
 */
export function peekLine(buf: Buffer, start: number, end: number): { t: string; c: string; b: string; length: number } | undefined {
  const m = PEEK.exec(buf.toString('latin1', start, Math.min(end, start + 256)));
  return m ? { t: m[1]!, c: m[2]!, b: m[3]!, length: m[0].length } : undefined;
}

/** Parses one line; undefined for a torn or foreign line. */
export function parseRecord(buf: Buffer, start: number, end: number): LineRecord | StructureRecord | undefined {
  try {
    const o = JSON.parse(buf.toString('utf8', start, end)) as LineRecord | StructureRecord;
    return o && typeof o === 'object' && typeof o.t === 'string' ? o : undefined;
  } catch {
    return undefined;
  }
}

export function isLine(r: LineRecord | StructureRecord): r is LineRecord {
  return !('k' in r);
}

export function toElement(r: LineRecord): LogElement {
  return { Category: r.c, OccurredAt: r.t, MessageText: r.m, Detail: r.d ?? null };
}

/** The folder of one task's log files in the shared TaskLogs folder. */
export function taskLogDir(taskLogs: string, taskId: string): string {
  if (!/^ServerTasks-\d+$/.test(taskId)) throw new Error(`not a task id: ${taskId}`);
  return join(taskLogs, taskId);
}

export const attemptLogName = (attempt: number) => `attempt-${attempt}.log`;
export const attemptIndexName = (attempt: number) => `attempt-${attempt}.idx`;
export const recoveryLogName = (attempt: number) => `recovery-${attempt}.log`;

/**
 * Byte ranges of one block's own lines, line-aligned. Ranges closer than GAP merge; past MAX the
 * two closest merge, so the list stays small however the lines interleave (a coarser range only
 * costs a reader more bytes to skip, never a missed line).
 */
export class Segments {
  static readonly GAP = 4096;
  static readonly MAX = 32;
  constructor(readonly list: [number, number][] = []) {}

  add(from: number, to: number): void {
    const last = this.list[this.list.length - 1];
    if (last && from - last[1] <= Segments.GAP) { last[1] = to; return; }
    this.list.push([from, to]);
    if (this.list.length <= Segments.MAX) return;
    let best = 1;
    for (let i = 2; i < this.list.length; i++) {
      if (this.list[i]![0] - this.list[i - 1]![1] < this.list[best]![0] - this.list[best - 1]![1]) best = i;
    }
    this.list[best - 1]![1] = this.list[best]![1];
    this.list.splice(best, 1);
  }
}
