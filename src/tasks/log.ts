import { appendFile, mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage } from '../errors.js';
import {
  attemptIndexName, attemptLogName, capText, isVerbose, lineRecord, recoveryLogName, Segments, structureRecord, taskLogDir,
  type BlockStatus, type IndexRecord, type LogCategory, type StructureRecord,
} from './logFormat.js';

export { LOG_CATEGORIES, taskLogDir, type BlockStatus, type LogCategory, type LogElement } from './logFormat.js';

const MASK = '********';

/**
 * Replaces every sensitive value longer than 3 characters (as Octopus does) with ********. A value
 * that spans lines is masked whole, and each of its lines long enough is masked too: a script that
 * prints it reaches the log line by line.
 */
export class Masker {
  private values: string[] = [];
  constructor(values: readonly string[] = []) { this.add(values); }

  /** More values, e.g. once a handler has decrypted them; they apply to every later write. */
  add(values: readonly string[]): void {
    const all = new Set(this.values);
    for (const v of values) {
      if (v.length > 3) all.add(v);
      if (/[\r\n]/.test(v)) {
        for (const line of v.split(/\r\n|\r|\n/)) {
          const trimmed = line.trim();
          if (trimmed.length > 3) all.add(trimmed);
        }
      }
    }
    // Longest first, so a value containing another is masked whole.
    this.values = [...all].sort((a, b) => b.length - a.length);
  }

  mask(text: string): string {
    let out = text;
    for (const v of this.values) if (out.includes(v)) out = out.split(v).join(MASK);
    return out;
  }
}

/** A node of the log tree: the task itself, a step under it, an action under a step. */
export interface LogBlock {
  /** Unique within the task, across attempts (the root's is the task id, shared by every attempt). */
  readonly id: string;
  /** Appends a line to this block; a block that has ended passes it to its nearest open ancestor. */
  write(category: LogCategory, message: string, detail?: string | null): Promise<void>;
  info(message: string): Promise<void>;
  verbose(message: string): Promise<void>;
  warn(message: string): Promise<void>;
  error(message: string): Promise<void>;
  highlight(message: string): Promise<void>;
  /** Opens a child block (a step under the task, an action under a step): a block-start record. */
  child(name: string): LogBlock;
  /**
   * Closes the block: a block-end record with its status (Success becomes SuccessWithWarning when
   * a warning or error was written in it). Idempotent; ending a parent ends open children (Canceled).
   * Ending the root ends its children only: the task's own status is the task's state.
   */
  end(status: BlockStatus): Promise<void>;
  /** A Warning/Error/Fatal was written in this block or below. */
  readonly hasWarnings: boolean;
}

type Item =
  | { kind: 'line'; block: Block; text: string; verbose: boolean; done: () => void }
  | { kind: 'structure'; block: Block; record: StructureRecord; done: () => void };

class Block implements LogBlock {
  open = true;
  warnings = false;
  readonly children = new Set<Block>();
  // Counted as lines are queued (the end record carries them); ranges as they are written.
  readonly own: [number, number] = [0, 0];
  readonly segs = new Segments();

  constructor(private readonly w: TaskLogWriter, readonly id: string, readonly parent: Block | undefined, readonly name: string) {}

  get hasWarnings(): boolean { return this.warnings; }

  private target(): Block {
    return this.open || !this.parent ? this : this.parent.target();
  }

  write(category: LogCategory, message: string, detail: string | null = null): Promise<void> {
    const b = this.target();
    if (category === 'Warning' || category === 'Error' || category === 'Fatal') {
      for (let p: Block | undefined = b; p && !p.warnings; p = p.parent) p.warnings = true;
    }
    return this.w.enqueueLine(b, category, message, detail);
  }

  info(message: string) { return this.write('Info', message); }
  verbose(message: string) { return this.write('Verbose', message); }
  warn(message: string) { return this.write('Warning', message); }
  error(message: string) { return this.write('Error', message); }
  highlight(message: string) { return this.write('Highlight', message); }

  child(name: string): LogBlock {
    const parent = this.target();
    const b = new Block(this.w, this.w.nextId(), parent, this.w.maskName(name));
    parent.children.add(b);
    void this.w.enqueueStructure(b, { k: 'start', t: now(), id: b.id, p: parent.id, n: b.name });
    return b;
  }

  end(status: BlockStatus): Promise<void> {
    if (!this.open) return Promise.resolve();
    const ends = [...this.children].map((c) => c.end('Canceled'));
    if (!this.parent) return Promise.all(ends).then(() => undefined);
    this.open = false;
    this.parent.children.delete(this);
    const s: BlockStatus = status === 'Success' && this.warnings ? 'SuccessWithWarning' : status;
    return this.w.enqueueStructure(this, { k: 'end', t: now(), id: this.id, p: this.parent.id, n: this.name, s, own: [...this.own] });
  }
}

function now(): string {
  return new Date().toISOString();
}

export interface OpenOptions {
  readonly taskLogs: string;
  readonly taskId: string;
  readonly attempt: number;
  readonly masker: Masker;
  /** After each batch reached the kernel (the engine NOTIFYs live readers). */
  readonly onWritten: () => void;
  /** Once, on the first write that failed; later writes are dropped. */
  readonly onFailure: (err: Error) => void;
}

/** A checkpoint in the index at least this often, so a reader scans at most this much log past it. */
const CHECKPOINT_BYTES = 1024 * 1024;
/** The largest log kept in the task's row instead of a file (see `inlined`). */
export const INLINE_MAX_BYTES = 4096;

/**
 * Appends one attempt's log and its index. This node is the files' only writer (one pair per
 * attempt, so a fenced-out owner that is still alive cannot corrupt the next attempt's files).
 * Records are written in order, in batches, each batch handed to the kernel before its writes
 * resolve — a SIGKILL of the node loses nothing already reported written. The files are opened per
 * batch rather than held open: a share that went away, or turned read-only, is noticed at the next
 * batch. Writes are asynchronous, so a slow share never stalls the event loop (or the heartbeat).
 * The one exception is a log written whole at once as the task ends (see `inlined`): it is durable
 * when the task's result is, in the same statement, and a node that dies first loses neither
 * (recovery settles the task, and its note is the attempt's log).
 */
export class TaskLogWriter {
  readonly root: LogBlock;
  private readonly rootBlock: Block;
  private readonly open = new Map<string, Block>();
  private pending: Item[] = [];
  private flushing: Promise<void> | undefined;
  private failure: Error | undefined;
  private closed = false;
  private seq = 0;
  private lastCheckpoint = 0;
  /**
   * Whether this attempt has an index. A log with no steps that stays small (a Noop's one line)
   * needs none: readers scan it whole, and the task's hot path saves a file write.
   */
  private indexed = false;
  /** Nothing of this attempt has been written yet (its first batch may still go to the row). */
  private untouched: boolean;
  /**
   * The attempt's whole log, when its first batch was also its last (the close record in it), small
   * and without steps: the engine stores it with the task's result, in the same statement, and no
   * folder or file is made. Creating them was most of the cost of a Noop. Undefined otherwise.
   */
  inlined: string | undefined;

  private constructor(
    private readonly dir: string,
    private readonly logPath: string,
    private readonly indexPath: string,
    private readonly attempt: number,
    private readonly masker: Masker,
    private readonly onWritten: () => void,
    private readonly onFailure: (err: Error) => void,
    private size: number,
    taskId: string,
    /** The task's folder is still to be made (a first attempt's, before its first append). */
    private needsFolder: boolean,
  ) {
    this.rootBlock = new Block(this, taskId, undefined, '');
    this.root = this.rootBlock;
    this.open.set(taskId, this.rootBlock);
    this.untouched = size === 0;
  }

  static async open(o: OpenOptions): Promise<TaskLogWriter> {
    const dir = taskLogDir(o.taskLogs, o.taskId);
    const logPath = join(dir, attemptLogName(o.attempt));
    // Offsets in the index count from the file's start; an attempt is normally a new file. A first
    // attempt's folder cannot exist yet: the first batch makes it before its append (not here, so
    // the task starts without waiting for the file system, and the folder costs no failed append).
    const size = o.attempt === 1 ? 0 : await stat(logPath).then((s) => s.size, (e: NodeJS.ErrnoException) => { if (e.code === 'ENOENT') return 0; throw e; });
    return new TaskLogWriter(dir, logPath, join(dir, attemptIndexName(o.attempt)), o.attempt, o.masker, o.onWritten, o.onFailure, size, o.taskId, o.attempt === 1);
  }

  get hasWarnings(): boolean { return this.rootBlock.warnings; }

  /** Ends open blocks (Canceled), marks the attempt closed, and waits for everything to be written. */
  async close(): Promise<void> {
    if (!this.closed) {
      await this.root.end('Canceled');
      const closing = this.enqueueStructure(this.rootBlock, { k: 'close', t: now() });
      this.closed = true;
      await closing;
    }
    while (this.flushing) await this.flushing;
  }

  nextId(): string {
    return `${this.rootBlock.id}_${this.attempt}_${++this.seq}`;
  }

  maskName(name: string): string {
    const masked = this.masker.mask(name);
    return masked.length > 1024 ? `${masked.slice(0, 1024)}…` : masked;
  }

  enqueueLine(block: Block, category: LogCategory, message: string, detail: string | null): Promise<void> {
    if (this.failure || this.closed) return Promise.resolve();
    // Masked before it is cut: a cut could otherwise leave half a secret that no longer matches.
    const text = lineRecord(now(), category, block.id, capText(this.masker.mask(message)), detail ? capText(this.masker.mask(detail)) : null);
    const verbose = isVerbose(category);
    block.own[0]++;
    if (verbose) block.own[1]++;
    return this.enqueue((done) => ({ kind: 'line', block, text, verbose, done }));
  }

  enqueueStructure(block: Block, record: StructureRecord): Promise<void> {
    if (this.failure || this.closed) return Promise.resolve();
    return this.enqueue((done) => ({ kind: 'structure', block, record, done }));
  }

  private enqueue(make: (done: () => void) => Item): Promise<void> {
    const written = new Promise<void>((done) => this.pending.push(make(done)));
    this.flushing ??= this.flush();
    return written;
  }

  private async flush(): Promise<void> {
    // Gather what the task writes in this turn of the event loop into one append (a Noop's line and
    // the close record: one file write per task on the queue's hot path, not one per record).
    await new Promise<void>((resolve) => setImmediate(resolve));
    while (this.pending.length) {
      const batch = this.pending;
      this.pending = [];
      if (!this.failure) {
        try {
          const { log, index } = this.encode(batch);
          const last = batch[batch.length - 1];
          const whole = this.untouched && last?.kind === 'structure' && last.record.k === 'close';
          this.untouched = false;
          if (whole && !index && !this.indexed && Buffer.byteLength(log) <= INLINE_MAX_BYTES) {
            this.inlined = log;
          } else {
            await this.append(this.logPath, log);
            if (index) await this.append(this.indexPath, index);
            this.onWritten();
          }
        } catch (err) {
          this.failure = new Error(`Could not write the task log ${this.logPath}: ${errorMessage(err)}`);
          this.onFailure(this.failure);
        }
      }
      for (const b of batch) b.done();
    }
    this.flushing = undefined;
  }

  /** The batch's log text, and the index records it adds (byte offsets from the writer's own count). */
  private encode(batch: Item[]): { log: string; index: string } {
    const log: string[] = [];
    const index: string[] = [];
    for (const item of batch) {
      const text = item.kind === 'line' ? item.text : structureRecord(item.record);
      const at = this.size;
      this.size += Buffer.byteLength(text);
      log.push(text);
      if (item.kind === 'line') { item.block.segs.add(at, this.size); continue; }
      const r = item.record;
      if (r.k === 'start') { this.open.set(r.id, item.block); this.indexed = true; index.push(JSON.stringify({ ...r, o: at })); }
      else if (r.k === 'end') { this.open.delete(r.id); index.push(JSON.stringify({ ...r, o: at, seg: item.block.segs.list })); }
      else index.push(JSON.stringify({ ...r, o: at }));
    }
    const last = batch[batch.length - 1];
    const closing = last?.kind === 'structure' && last.record.k === 'close';
    if (this.size >= CHECKPOINT_BYTES) this.indexed = true;
    if (!this.indexed) return { log: log.join(''), index: '' };
    if (closing || this.size - this.lastCheckpoint >= CHECKPOINT_BYTES) {
      const live = [...this.open.values()].map((b) => ({ id: b.id, own: b.own, seg: b.segs.list }));
      const at: IndexRecord = { k: 'at', o: this.size, live };
      // Last: a reader trusts the records up to the last checkpoint, the close record included.
      index.push(JSON.stringify(at));
      this.lastCheckpoint = this.size;
    }
    return { log: log.join(''), index: index.length ? index.join('\n') + '\n' : '' };
  }

  /** Appends; the task's folder is made first when it is new, or when an append finds it missing. */
  private async append(path: string, text: string): Promise<void> {
    if (this.needsFolder) {
      await makeFolder(this.dir);
      this.needsFolder = false;
    }
    try {
      await appendFile(path, text, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      await makeFolder(this.dir);
      await appendFile(path, text, 'utf8');
    }
  }
}

// Not recursive: a TaskLogs folder that vanished (an unmounted share) must fail, not be recreated locally.
async function makeFolder(dir: string): Promise<void> {
  await mkdir(dir).catch((e: NodeJS.ErrnoException) => { if (e.code !== 'EEXIST') throw e; });
}

/**
 * A note about attempt `attempt` that is not that attempt's writer's to make (recovery, after the
 * node died): its own file, whose only writer is whoever holds the task's row lock. Lines of the
 * task root, in the log-line format.
 */
export async function appendNote(taskLogs: string, taskId: string, attempt: number, category: LogCategory, message: string): Promise<void> {
  const dir = taskLogDir(taskLogs, taskId);
  await makeFolder(dir);
  await appendFile(join(dir, recoveryLogName(attempt)), lineRecord(now(), category, taskId, capText(message), null), 'utf8');
}
