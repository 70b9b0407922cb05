// What the live stream sends, read from the files a bounded batch at a time: block events and log
// events, each with the cursor just past it, so a client that reconnects with that cursor
// (Last-Event-ID) carries on exactly where it left off.
import { forwardChunks, openLog, type LogFile, type LogHandle } from './logFiles.js';
import { endsClosed } from './logIndex.js';
import { isStructure, parseRecord, type StructureRecord } from './logFormat.js';
import { appendElement, Bytes } from './logJson.js';

/** Per file, how far the client has it: "a1:1234,r1:88,a2:0" (a = attempt, r = recovery). */
export class LogCursor {
  private readonly offsets = new Map<string, number>();

  static parse(text: string | undefined): LogCursor {
    const c = new LogCursor();
    for (const part of (text ?? '').split(',')) {
      const m = /^([ar])(\d{1,9}):(\d{1,15})$/.exec(part.trim());
      if (m) c.offsets.set(`${m[1]}${m[2]}`, Number(m[3]));
    }
    return c;
  }

  private static key(f: LogFile): string { return `${f.kind === 'attempt' ? 'a' : 'r'}${f.attempt}`; }
  get(f: LogFile): number { return this.offsets.get(LogCursor.key(f)) ?? 0; }
  set(f: LogFile, offset: number): void { this.offsets.set(LogCursor.key(f), offset); }
  toString(): string { return [...this.offsets].map(([k, v]) => `${k}:${v}`).join(','); }
}

export interface StreamEvent {
  readonly event: 'log' | 'block';
  /** The event's data, serialised. */
  readonly json: Buffer;
  /** The file offset just past the event's last record. */
  readonly offset: number;
}

export interface StreamRead {
  readonly events: StreamEvent[];
  /** Where the next read starts. */
  readonly next: number;
  /** More complete lines wait after `next`. */
  readonly more: boolean;
}

/**
 * One bounded read (about 256 KiB, or one longer line) of an open log file from `from`: `block` events
 * {Event: Started|Ended, Id, ParentId, Name, Status, OccurredAt, Attempt} and `log` events
 * {File, Attempt, Kind, BlockId, LogElements}, one per run of lines of the same block.
 */
export async function readEvents(fh: LogHandle, file: LogFile, from: number, rootId: string): Promise<StreamRead> {
  const { size } = await fh.stat();
  if (size <= from) return { events: [], next: from, more: false };
  const events: StreamEvent[] = [];
  const group = new Bytes();
  const element = new Bytes();
  let block: string | undefined;
  let next = from;
  const flush = () => {
    if (block === undefined) return;
    events.push({ event: 'log', offset: next, json: group.ascii(']}').take() });
    block = undefined;
  };
  for await (const c of forwardChunks(fh, from, size)) {
    for (let i = 0; i < c.starts.length; i++) {
      const s = c.starts[i]!;
      const e = c.ends[i]!;
      const end = c.base + e + 1;
      if (isStructure(c.buf, s, e)) {
        const r = parseRecord(c.buf, s, e) as StructureRecord | undefined;
        if (r && r.k !== 'close') {
          flush();
          events.push({ event: 'block', offset: end, json: Buffer.from(JSON.stringify({
            Event: r.k === 'start' ? 'Started' : 'Ended', Id: r.id, ParentId: r.p, Name: r.n,
            Status: r.k === 'start' ? 'Running' : r.s, OccurredAt: r.t, Attempt: file.attempt,
          })) });
        }
        next = end;
        continue;
      }
      const b = appendElement(element, c.buf, s, e);
      if (b !== undefined) {
        const id = b || rootId;
        if (block !== id) {
          flush();
          block = id;
          group.text(`{"File":${JSON.stringify(file.name)},"Attempt":${file.attempt},"Kind":"${file.kind}","BlockId":${JSON.stringify(id)},"LogElements":[`);
        } else {
          group.ascii(',');
        }
        element.moveTo(group);
      }
      next = end;
    }
    break; // one chunk per call: the caller sends it (awaiting the socket) before reading on
  }
  flush();
  // No progress means only a line still being written is left: wait for it rather than spin.
  return { events, next, more: next > from && next < size };
}

/** Whether the attempt's writer closed it (its last record says so). */
export async function attemptClosed(file: LogFile): Promise<boolean> {
  const fh = await openLog(file);
  if (!fh) return false;
  try {
    return await endsClosed(fh);
  } finally {
    await fh.close();
  }
}
