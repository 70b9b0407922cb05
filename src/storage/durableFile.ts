// Writing a large file so that it is on disk when the write ends, without a long wait at the end.
// A plain write stream leaves everything in the page cache and a final fsync then writes it all
// back at once (about half a second per GB here); this sink asks the kernel to write back every
// SYNC_EVERY bytes while the data is still arriving (fdatasync in libuv's thread pool, never more
// than one at a time), so the final fsync only has the tail left. The upload's rate is unchanged:
// writes go on while a flush runs.
import { open, type FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';

const SYNC_EVERY = 64 * 1024 * 1024;

export class DurableFileSink extends Writable {
  private fh: FileHandle | undefined;
  private sinceSync = 0;
  private flushing: Promise<void> | undefined;
  private flushError: Error | undefined;

  /** Creates `path` (never over an existing name) with `mode`. */
  constructor(private readonly path: string, private readonly mode: number) {
    super({ highWaterMark: 1024 * 1024 });
  }

  override _construct(callback: (error?: Error | null) => void): void {
    open(this.path, 'wx', this.mode).then((fh) => { this.fh = fh; callback(); }, callback);
  }

  override _writev(chunks: { chunk: Buffer }[], callback: (error?: Error | null) => void): void {
    this.writeAll(chunks.map((c) => c.chunk)).then(() => callback(), callback);
  }

  private async writeAll(buffers: Buffer[]): Promise<void> {
    if (this.flushError) throw this.flushError;
    let rest = buffers;
    while (rest.length > 0) {
      const { bytesWritten } = await this.fh!.writev(rest);
      this.sinceSync += bytesWritten;
      rest = skip(rest, bytesWritten);
    }
    if (this.sinceSync >= SYNC_EVERY && !this.flushing) {
      this.sinceSync = 0;
      this.flushing = this.fh!.datasync().catch((err: unknown) => { this.flushError = err instanceof Error ? err : new Error(String(err)); }).finally(() => { this.flushing = undefined; });
    }
  }

  override _final(callback: (error?: Error | null) => void): void {
    const finish = async () => {
      await this.flushing;
      if (this.flushError) throw this.flushError;
      await this.fh!.sync();
    };
    finish().then(() => callback(), callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const fh = this.fh;
    this.fh = undefined;
    // A flush still running holds the descriptor: close after it.
    Promise.resolve(this.flushing).then(() => fh?.close()).then(() => callback(error), (err: Error) => callback(error ?? err));
  }
}

/** The buffers after the first `n` bytes of them. */
function skip(buffers: Buffer[], n: number): Buffer[] {
  let i = 0;
  while (i < buffers.length && n >= buffers[i]!.length) n -= buffers[i++]!.length;
  if (i === buffers.length) return [];
  return n === 0 ? buffers.slice(i) : [buffers[i]!.subarray(n), ...buffers.slice(i + 1)];
}

/**
 * Makes the renames and creations in a folder durable (its entries on disk). Best effort: some file
 * systems refuse fsync on a folder, and there is nothing more to do on those.
 */
export async function syncFolder(dir: string): Promise<void> {
  const d = await open(dir, 'r').catch(() => undefined);
  if (!d) return;
  try { await d.sync(); } catch { /* refused by the file system */ } finally { await d.close(); }
}
