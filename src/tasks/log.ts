import { appendFile, mkdir, open, readdir, readFile, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { errorMessage } from '../errors.js';

export const LOG_CATEGORIES = ['Trace', 'Verbose', 'Info', 'Highlight', 'Wait', 'Gap', 'Alert', 'Warning', 'Error', 'Fatal', 'Planned', 'Updated', 'Finished', 'Abandoned'] as const;
export type LogCategory = (typeof LOG_CATEGORIES)[number];

export interface LogElement {
  readonly Category: LogCategory;
  readonly OccurredAt: string;
  readonly MessageText: string;
  readonly Detail: string | null;
}

/** Replaces every sensitive value (longer than 3 characters, as Octopus does) with ********. */
export class Masker {
  private readonly values: string[];
  constructor(values: readonly string[] = []) {
    this.values = [...new Set(values.filter((v) => v.length > 3))].sort((a, b) => b.length - a.length);
  }
  mask(text: string): string {
    let out = text;
    for (const v of this.values) if (out.includes(v)) out = out.split(v).join('********');
    return out;
  }
}

/** The folder of one task's log files in the shared TaskLogs folder. */
export function taskLogDir(taskLogs: string, taskId: string): string {
  if (!/^ServerTasks-\d+$/.test(taskId)) throw new Error(`not a task id: ${taskId}`);
  return join(taskLogs, taskId);
}

/**
 * Appends one attempt's log. This node is the file's only writer (one file per attempt, so a
 * fenced-out owner that is still alive cannot corrupt the next attempt's file). Lines are written
 * in order, in batches, each batch handed to the kernel before its writes resolve — a SIGKILL of
 * the node loses nothing already reported written. The file is opened per batch rather than held
 * open: a share that went away, or turned read-only, is noticed at the next line. Writes are
 * asynchronous, so a slow share never stalls the event loop (or the heartbeat).
 */
export class TaskLogWriter {
  private pending: { line: string; done: () => void }[] = [];
  private flushing: Promise<void> | undefined;
  private failure: Error | undefined;
  private warnings = false;

  private constructor(
    readonly path: string,
    private readonly masker: Masker,
    private readonly onWritten: () => void,
    private readonly onFailure: (err: Error) => void,
  ) {}

  static async open(taskLogs: string, taskId: string, fileName: string, masker: Masker, onWritten: () => void, onFailure: (err: Error) => void): Promise<TaskLogWriter> {
    const w = new TaskLogWriter(join(taskLogDir(taskLogs, taskId), fileName), masker, onWritten, onFailure);
    // A first attempt's folder cannot exist yet: make it now rather than after a failed append.
    if (fileName === 'attempt-1.log') await w.makeFolder();
    return w;
  }

  // Not recursive: a TaskLogs folder that vanished (an unmounted share) must fail, not be recreated locally.
  private async makeFolder(): Promise<void> {
    await mkdir(dirname(this.path)).catch((e: NodeJS.ErrnoException) => { if (e.code !== 'EEXIST') throw e; });
  }

  /** Appends; the task's folder is created on the first write that finds it missing. */
  private async append(text: string): Promise<void> {
    try {
      await appendFile(this.path, text, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      await this.makeFolder();
      await appendFile(this.path, text, 'utf8');
    }
  }

  get hasWarnings(): boolean { return this.warnings; }

  write(category: LogCategory, message: string, detail: string | null = null): Promise<void> {
    if (category === 'Warning' || category === 'Error' || category === 'Fatal') this.warnings = true;
    if (this.failure) return Promise.resolve();
    const line = JSON.stringify({ t: new Date().toISOString(), c: category, m: this.masker.mask(message), ...(detail ? { d: this.masker.mask(detail) } : {}) }) + '\n';
    const written = new Promise<void>((done) => this.pending.push({ line, done }));
    this.flushing ??= this.flush();
    return written;
  }

  private async flush(): Promise<void> {
    while (this.pending.length) {
      const batch = this.pending;
      this.pending = [];
      if (!this.failure) {
        try {
          await this.append(batch.map((b) => b.line).join(''));
          this.onWritten();
        } catch (err) {
          this.failure = new Error(`Could not write the task log ${this.path}: ${errorMessage(err)}`);
          this.onFailure(this.failure);
        }
      }
      for (const b of batch) b.done();
    }
    this.flushing = undefined;
  }

  async close(): Promise<void> {
    while (this.flushing) await this.flushing;
  }
}

export interface LogFile {
  readonly name: string;
  readonly attempt: number;
  readonly kind: 'attempt' | 'recovery';
}

const FILE_RE = /^(attempt|recovery)-(\d+)\.log$/;

/** A task's log files in reading order: attempt 1, what recovery said about it, attempt 2, … */
export async function logFiles(taskLogs: string, taskId: string): Promise<LogFile[]> {
  let names: string[];
  try {
    names = await readdir(taskLogDir(taskLogs, taskId));
  } catch {
    return [];
  }
  return names.flatMap((n) => {
    const m = FILE_RE.exec(n);
    return m ? [{ name: n, attempt: Number(m[2]), kind: m[1] as 'attempt' | 'recovery' }] : [];
  }).sort((a, b) => a.attempt - b.attempt || (a.kind === 'attempt' ? -1 : 1));
}

export function parseLines(text: string): LogElement[] {
  const out: LogElement[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      const o = JSON.parse(line) as { t: string; c: LogCategory; m: string; d?: string };
      out.push({ Category: o.c, OccurredAt: o.t, MessageText: o.m, Detail: o.d ?? null });
    } catch {
      // A torn last line of a writer that died mid-write: not yet (or never) complete.
    }
  }
  return out;
}

export async function readLogFile(taskLogs: string, taskId: string, name: string): Promise<LogElement[]> {
  try {
    return parseLines(await readFile(join(taskLogDir(taskLogs, taskId), name), 'utf8'));
  } catch {
    return [];
  }
}

/** Reads what was appended to a file since `offset`, up to the last complete line. */
export async function readSince(path: string, offset: number): Promise<{ elements: LogElement[]; offset: number }> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch {
    return { elements: [], offset };
  }
  try {
    const { size } = await fh.stat();
    if (size <= offset) return { elements: [], offset };
    const buf = Buffer.alloc(size - offset);
    await fh.read(buf, 0, buf.length, offset);
    const end = buf.lastIndexOf(0x0a);
    if (end < 0) return { elements: [], offset };
    return { elements: parseLines(buf.subarray(0, end + 1).toString('utf8')), offset: offset + end + 1 };
  } finally {
    await fh.close();
  }
}

export function rawLine(e: LogElement): string {
  const time = e.OccurredAt.slice(11, 19);
  return `${time}   ${e.Category.padEnd(8)} | ${e.MessageText}`;
}
