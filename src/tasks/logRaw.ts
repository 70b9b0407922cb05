// The raw log: plain text, every attempt under its own header, each block's lines indented under
// a header line that ends with the block's status and duration. Produced chunk by chunk as the
// files are read, so a large log streams through in bounded memory (the consumer's backpressure
// paces the reads).
import { collectSources } from './logSources.js';
import { forwardChunks } from './logFiles.js';
import type { BlockInfo, FileIndex } from './logIndex.js';
import { isStructure, parseRecord, type LineRecord, type StartRecord } from './logFormat.js';
import type { TaskRow } from './types.js';

const BLANK = ' '.repeat(20) + '| ';

export async function* rawLog(t: TaskRow, taskLogs: string | undefined): AsyncGenerator<string> {
  yield [`Task ID:        ${t.id}`, `Task status:    ${t.state}`, `Task queued:    ${t.queueTime.toISOString()}`,
    `Task started:   ${t.startTime?.toISOString() ?? ''}`, `Task completed: ${t.completedTime?.toISOString() ?? ''}`,
    `Server node:    ${t.serverNode?.replace(/^OctopusServerNodes-/, '') ?? ''}`, '', ''].join('\n');
  if (!taskLogs) return;
  const sources = await collectSources(taskLogs, t);
  try {
    for (const { fh, index } of sources.list) {
      const f = index.file;
      yield f.kind === 'attempt' ? `== Attempt ${f.attempt} ==\n` : `== Recovery after attempt ${f.attempt} ==\n`;
      const live = f.kind === 'attempt' && f.attempt === t.attempt && !index.closed && (t.state === 'Executing' || t.state === 'Cancelling');
      const depth = new Map<string, number>([[t.id, 0]]);
      for await (const c of forwardChunks(fh, 0, index.size)) {
        let out = '';
        for (let i = 0; i < c.starts.length; i++) {
          const s = c.starts[i]!;
          const e = c.ends[i]!;
          if (isStructure(c.buf, s, e)) {
            // Only block starts print (the header carries the end); other structure is skipped unparsed.
            if (c.buf.toString('latin1', s, s + 13) !== '{"k":"start",') continue;
            const r = parseRecord(c.buf, s, e) as StartRecord | undefined;
            if (!r) continue;
            const d = (depth.get(r.p) ?? 0) + 1;
            depth.set(r.id, d);
            out += `${BLANK}${'  '.repeat(d)}${r.n}${suffix(index.blocks.get(r.id), r, live, t, index)}\n`;
            continue;
          }
          const r = parseRecord(c.buf, s, e) as LineRecord | undefined;
          if (!r || typeof r.c !== 'string') continue;
          const d = depth.get(r.b ?? t.id) ?? 0;
          out += line(r, d === 0 ? '' : '  '.repeat(d + 1));
        }
        if (out) yield out;
      }
    }
  } finally {
    await sources.close();
  }
}

function line(r: LineRecord, indent: string): string {
  const head = `${r.t.slice(11, 19)}   ${r.c.padEnd(8)} | ${indent}`;
  const text = r.d ? `${r.m}\n${r.d}` : r.m;
  // Continuation lines keep the column, so every line of the raw log says which block it is in.
  return head + text.replace(/\r?\n/g, `\n${BLANK}${indent}`) + '\n';
}

function suffix(b: BlockInfo | undefined, start: StartRecord, live: boolean, t: TaskRow, index: FileIndex): string {
  if (b?.status) return ` [${b.status}, ${duration(start.t, b.ended)}]`;
  if (live) return ' [Running]';
  return t.state === 'Canceled' && index.file.attempt === t.attempt ? ' [Canceled]' : ' [Failed: the attempt ended before the block did]';
}

function duration(from: string, to: string | null): string {
  if (!to) return '';
  const ms = Math.max(0, Date.parse(to) - Date.parse(from));
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}
