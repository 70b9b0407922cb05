// Log lines turned into LogElement JSON by copying bytes: a record's message and detail are already
// JSON strings in the file, so the live stream need not parse and re-serialise every line (the
// cost that made several viewers of a big log burn the node's CPU).
import { parseRecord, peekLine, toElement, type LineRecord } from './logFormat.js';

/** A growing byte buffer. */
export class Bytes {
  private buf = Buffer.allocUnsafe(64 * 1024);
  private len = 0;

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(bigger, 0, 0, this.len);
    this.buf = bigger;
  }

  /** Text known to be ASCII (names we generate, times, categories, JSON punctuation). */
  ascii(s: string): this { this.room(s.length); this.len += this.buf.write(s, this.len, 'latin1'); return this; }
  text(s: string): this { const n = Buffer.byteLength(s); this.room(n); this.len += this.buf.write(s, this.len, 'utf8'); return this; }
  copy(src: Buffer, from: number, to: number): this { this.room(to - from); src.copy(this.buf, this.len, from, to); this.len += to - from; return this; }
  get length(): number { return this.len; }
  /** Moves the bytes so far to the end of `other`. */
  moveTo(other: Bytes): void { other.copy(this.buf, 0, this.len); this.len = 0; }
  /** A copy of the bytes so far, and an empty buffer. */
  take(): Buffer { const out = Buffer.from(this.buf.subarray(0, this.len)); this.len = 0; return out; }
}

/** Where the JSON string opening at `open` closes (the next quote not escaped by a backslash), or -1. */
function stringEnd(buf: Buffer, open: number, to: number): number {
  let q = open;
  for (;;) {
    q = buf.indexOf(0x22, q + 1);
    if (q < 0 || q >= to) return -1;
    let slashes = 0;
    for (let k = q - 1; buf[k] === 0x5c; k--) slashes++;
    if (slashes % 2 === 0) return q;
  }
}

const M = Buffer.from(',"m":"');
const D = Buffer.from(',"d":"');

/**
 * Appends line buf[s, e) as a LogElement object and returns its block id (undefined: not a log
 * line). Lines not in the expected shape (the format before blocks) are parsed instead.
 */
export function appendElement(out: Bytes, buf: Buffer, s: number, e: number): string | undefined {
  const p = peekLine(buf, s, e);
  if (p) {
    const m = s + p.length;
    if (buf.compare(M, 0, M.length, m, m + M.length) === 0 && buf[e - 1] === 0x7d) {
      const mEnd = stringEnd(buf, m + 5, e);
      const plain = mEnd === e - 2;
      const withDetail = !plain && mEnd > 0 && buf.compare(D, 0, D.length, mEnd + 1, mEnd + 1 + D.length) === 0 && stringEnd(buf, mEnd + 6, e) === e - 2;
      if (plain || withDetail) {
        out.ascii(`{"Category":"${p.c}","OccurredAt":"${p.t}","MessageText":`).copy(buf, m + 5, mEnd + 1).ascii(',"Detail":');
        if (withDetail) out.copy(buf, mEnd + 6, e - 1); else out.ascii('null');
        out.ascii('}');
        return p.b;
      }
    }
  }
  const r = parseRecord(buf, s, e) as LineRecord | undefined;
  if (!r || typeof r.c !== 'string' || typeof r.m !== 'string') return undefined;
  out.text(JSON.stringify(toElement(r)));
  return r.b ?? '';
}
