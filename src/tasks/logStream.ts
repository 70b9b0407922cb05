// What the live stream sends, read from the files a bounded batch at a time: block events and log
// events, each with the cursor just past it, so a client that reconnects with that cursor
// (Last-Event-ID) carries on exactly where it left off.
import { forwardChunks, openLog, type LogFile } from './logFiles.js';
import { endsClosed } from './logIndex.js';
import { isStructure, parseRecord, toElement, type LineRecord, type LogElement, type StructureRecord } from './logFormat.js';

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
  readonly data: object;
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

/** One bounded read (about 256 KiB, or one longer line) of a file from `from`. */
export async function readEvents(file: LogFile, from: number, rootId: string): Promise<StreamRead> {
  const fh = await openLog(file.path);
  if (!fh) return { events: [], next: from, more: false };
  try {
    const { size } = await fh.stat();
    if (size <= from) return { events: [], next: from, more: false };
    const events: StreamEvent[] = [];
    let next = from;
    let group: { block: string; elements: LogElement[] } | undefined;
    const flush = () => {
      if (!group) return;
      events.push({ event: 'log', offset: next, data: { File: file.name, Attempt: file.attempt, Kind: file.kind, BlockId: group.block, LogElements: group.elements } });
      group = undefined;
    };
    for await (const c of forwardChunks(fh, from, size)) {
      for (let i = 0; i < c.starts.length; i++) {
        const r = parseRecord(c.buf, c.starts[i]!, c.ends[i]!);
        const end = c.base + c.ends[i]! + 1;
        if (!r) { next = end; continue; }
        if (isStructure(c.buf, c.starts[i]!, c.ends[i]!)) {
          const s = r as StructureRecord;
          if (s.k === 'close') { next = end; continue; }
          flush();
          next = end;
          events.push({ event: 'block', offset: next, data: {
            Event: s.k === 'start' ? 'Started' : 'Ended', Id: s.id, ParentId: s.p, Name: s.n,
            Status: s.k === 'start' ? 'Running' : s.s, OccurredAt: s.t, Attempt: file.attempt,
          } });
          continue;
        }
        const l = r as LineRecord;
        const block = l.b ?? rootId;
        if (group && group.block !== block) flush();
        group ??= { block, elements: [] };
        group.elements.push(toElement(l));
        next = end;
      }
      break; // one chunk per call: the caller sends it (awaiting the socket) before reading on
    }
    flush();
    // No progress means only a line still being written is left: wait for it rather than spin.
    return { events, next, more: next > from && next < size };
  } finally {
    await fh.close();
  }
}

/** Whether the attempt's writer closed it (its last record says so). */
export async function attemptClosed(file: LogFile): Promise<boolean> {
  const fh = await openLog(file.path);
  if (!fh) return false;
  try {
    return await endsClosed(fh);
  } finally {
    await fh.close();
  }
}
