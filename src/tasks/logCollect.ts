// Which log elements `details` returns, read in bounded memory. Without `tail`: the first lines
// of the log (forwards) and its last lines (backwards), up to a budget, with a count of what lies
// between. With `tail=N`: the last N lines of every block, read backwards from the end of each
// block's byte ranges (from the index), so a big log is never read whole.
import { backwardChunks, forwardChunks, type LineChunk, type LogHandle } from './logFiles.js';
import type { FileIndex } from './logIndex.js';
import { isStructure, isVerbose, parseRecord, peekLine, toElement, type LineRecord, type LogElement } from './logFormat.js';

/** What details returns at most, over the whole tree. */
export const DETAILS_MAX_ELEMENTS = 20_000;
export const DETAILS_MAX_BYTES = 8 * 1024 * 1024;

export interface Source {
  readonly fh: LogHandle;
  readonly index: FileIndex;
  /** A line the reader adds before the file's own ("Attempt 2"), counted as a root line. */
  readonly preamble: LogElement | undefined;
}

export interface Collected {
  head: LogElement[];
  /** Newest first while collecting. */
  tail: LogElement[];
}

export class Collection {
  readonly byBlock = new Map<string, Collected>();
  budgetExceeded = false;
  of(id: string): Collected {
    let c = this.byBlock.get(id);
    if (!c) { c = { head: [], tail: [] }; this.byBlock.set(id, c); }
    return c;
  }
  count(id: string): number {
    const c = this.byBlock.get(id);
    return c ? c.head.length + c.tail.length : 0;
  }
}

class Budget {
  constructor(private elements: number, private bytes: number) {}
  take(e: LogElement): boolean {
    const size = e.MessageText.length + (e.Detail?.length ?? 0) + 100;
    if (this.elements <= 0 || this.bytes < size) { this.elements = 0; return false; }
    this.elements--;
    this.bytes -= size;
    return true;
  }
}

interface Line { block: string; element: LogElement }

/** A chunk's log lines that pass the filter, parsed only when `want` says the block still needs them. */
function lineAt(c: LineChunk, i: number, src: Source, verbose: boolean, want: (block: string) => boolean): Line | undefined {
  const s = c.starts[i]!;
  const e = c.ends[i]!;
  if (isStructure(c.buf, s, e)) return undefined;
  // Filtered on the first bytes: only lines that are wanted are parsed.
  const p = peekLine(c.buf, s, e);
  if (p && ((!verbose && isVerbose(p.c)) || !want(src.index.blocks.has(p.b) ? p.b : src.index.rootId))) return undefined;
  const r = parseRecord(c.buf, s, e) as LineRecord | undefined;
  if (!r || typeof r.c !== 'string' || (!verbose && isVerbose(r.c))) return undefined;
  const block = r.b && src.index.blocks.has(r.b) ? r.b : src.index.rootId;
  return want(block) ? { block, element: toElement(r) } : undefined;
}

/** The first lines (file order) and the last lines of all sources, each up to half the budget. */
export async function headAndTail(sources: Source[], verbose: boolean): Promise<Collection> {
  const out = new Collection();
  const head = new Budget(DETAILS_MAX_ELEMENTS / 2, DETAILS_MAX_BYTES / 2);
  // The head stops at (file, offset); offset -1 is the file's preamble.
  let cut: { file: number; offset: number } | undefined;
  files: for (let f = 0; f < sources.length; f++) {
    const src = sources[f]!;
    if (src.preamble) {
      if (!head.take(src.preamble)) { cut = { file: f, offset: -1 }; break; }
      out.of(src.index.rootId).head.push(src.preamble);
    }
    for await (const c of forwardChunks(src.fh, 0, src.index.size)) {
      for (let i = 0; i < c.starts.length; i++) {
        const l = lineAt(c, i, src, verbose, () => true);
        if (!l) continue;
        if (!head.take(l.element)) { cut = { file: f, offset: c.base + c.starts[i]! }; break files; }
        out.of(l.block).head.push(l.element);
      }
    }
  }
  if (!cut) return out;
  out.budgetExceeded = true;
  const tail = new Budget(DETAILS_MAX_ELEMENTS / 2, DETAILS_MAX_BYTES / 2);
  for (let f = sources.length - 1; f >= cut.file; f--) {
    const src = sources[f]!;
    const lo = f === cut.file ? Math.max(0, cut.offset) : 0;
    for await (const c of backwardChunks(src.fh, lo, src.index.size)) {
      for (let i = c.starts.length - 1; i >= 0; i--) {
        const l = lineAt(c, i, src, verbose, () => true);
        if (!l) continue;
        if (!tail.take(l.element)) return out;
        out.of(l.block).tail.push(l.element);
      }
    }
    if (src.preamble && (f > cut.file || cut.offset < 0)) {
      if (!tail.take(src.preamble)) return out;
      out.of(src.index.rootId).tail.push(src.preamble);
    }
  }
  return out;
}

/** The last `n` lines of every block, newest sources first, reading only the blocks' byte ranges. */
export async function tails(sources: Source[], n: number, verbose: boolean): Promise<Collection> {
  const out = new Collection();
  const budget = new Budget(DETAILS_MAX_ELEMENTS, DETAILS_MAX_BYTES);
  const full = new Set<string>();
  const want = (id: string) => !full.has(id);
  const add = (id: string, e: LogElement): boolean => {
    if (!budget.take(e)) { out.budgetExceeded = true; return false; }
    const c = out.of(id);
    c.tail.push(e);
    if (c.tail.length >= n) full.add(id);
    return true;
  };
  if (n === 0) return out;
  for (let f = sources.length - 1; f >= 0; f--) {
    const src = sources[f]!;
    for (const range of ranges(src.index, want)) {
      if (![...range.ids].some(want)) continue;
      for await (const c of backwardChunks(src.fh, range.lo, range.hi)) {
        for (let i = c.starts.length - 1; i >= 0; i--) {
          const l = lineAt(c, i, src, verbose, want);
          if (l && !add(l.block, l.element)) return out;
        }
        if (![...range.ids].some(want)) break;
      }
    }
    if (src.preamble && want(src.index.rootId) && !add(src.index.rootId, src.preamble)) return out;
  }
  return out;
}

/** The union of the byte ranges of the blocks still wanted, highest first, each with the blocks it serves. */
function ranges(index: FileIndex, want: (id: string) => boolean): { lo: number; hi: number; ids: Set<string> }[] {
  const segs: [number, number, string][] = [];
  for (const b of index.blocks.values()) {
    if (!want(b.id)) continue;
    for (const [lo, hi] of b.segs.list) if (lo < index.size) segs.push([lo, Math.min(hi, index.size), b.id]);
  }
  segs.sort((a, b) => a[0] - b[0]);
  const out: { lo: number; hi: number; ids: Set<string> }[] = [];
  for (const [lo, hi, id] of segs) {
    const last = out[out.length - 1];
    if (last && lo <= last.hi) { last.hi = Math.max(last.hi, hi); last.ids.add(id); }
    else out.push({ lo, hi, ids: new Set([id]) });
  }
  return out.reverse();
}
