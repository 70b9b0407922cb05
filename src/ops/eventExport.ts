// Audit events older than the retention period leave the database for the shared EventExports
// folder: one JSON-lines file per UTC day (events-YYYY-MM-DD.jsonl), as Octopus archives its audit
// log. A cluster-wide job (one node at a time) does it in the transaction that holds the job's lock:
// the day's file is rewritten atomically (a temporary file, fsync, rename) with the batch merged in,
// and only then are the rows deleted, in the same transaction. A node that dies before its rename
// leaves the rows (and a temporary file the sweep removes); one that dies after the rename but before
// the commit leaves rows already in the file, and the next run merges them by id: nothing lost,
// nothing written twice.
import { createReadStream } from 'node:fs';
import { copyFile, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { PoolClient } from 'pg';
import { randomUUID } from 'node:crypto';
import type { ClusterJob } from '../cluster/jobs.js';
import { setJobIdleLimit } from '../cluster/queries.js';
import type { RuntimeOptions } from '../config/options.js';
import { presentEvent, type EventRow } from '../deploy/events.js';
import { syncFolder } from '../storage/durableFile.js';
import { getSharedPaths, resolvePaths } from '../storage/sharedPaths.js';
import { numberSetting } from '../tasks/queries.js';
import { deleteEvents, oldestEventsDay } from './queries.js';

export const EVENT_RETENTION_SETTING = 'events.retention_days';
export const DEFAULT_EVENT_RETENTION_DAYS = 90;
/** Events per file write: small enough that one write never leaves the job's transaction idle for long. */
const BATCH = 20_000;
/** Writes per run; the rest waits for the next run. */
const MAX_BATCHES = 10;
/**
 * The job's transaction may sit idle this long between statements (a day's file is copied and
 * synced in between); a frozen node still lets go of the job's lock within it.
 */
const EXPORT_IDLE_LIMIT_MS = 30_000;

export function exportFileName(day: string): string {
  return `events-${day}.jsonl`;
}

/** One exported event: the API's resource (without links), plus what the export must keep whole. */
export function exportLine(row: EventRow): string {
  const resource = presentEvent(row) as Record<string, unknown>;
  delete resource.Links;
  return JSON.stringify({ ...resource, Seq: Number(row.seq), ProjectId: row.project_id, EnvironmentId: row.environment_id, Changes: row.changes }) + '\n';
}

async function idsInFile(path: string): Promise<Set<string>> {
  const ids = new Set<string>();
  const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line) continue;
    try {
      const id = (JSON.parse(line) as { Id?: unknown }).Id;
      if (typeof id === 'string') ids.add(id);
    } catch {
      // A line that does not parse is kept as it is; it names no event we could duplicate.
    }
  }
  return ids;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

/**
 * Writes `rows` (all of one UTC day) into that day's file, skipping events the file already holds;
 * returns how many lines were added. The file changes by one rename, never in place.
 */
export async function mergeIntoDayFile(dir: string, day: string, rows: readonly EventRow[]): Promise<number> {
  const target = join(dir, exportFileName(day));
  const temp = join(dir, `.${exportFileName(day)}.${randomUUID()}.tmp`);
  const had = await exists(target);
  const present = had ? await idsInFile(target) : new Set<string>();
  const fresh = rows.filter((r) => !present.has(r.id));
  if (fresh.length === 0) return 0;
  try {
    if (had) await copyFile(target, temp);
    const f = await open(temp, had ? 'a' : 'wx', 0o640);
    try {
      await f.writeFile(fresh.map(exportLine).join(''));
      await f.sync();
    } finally {
      await f.close();
    }
    await rename(temp, target);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  // The rename itself is durable once the folder is synced (where the file system allows it).
  await syncFolder(dir);
  return fresh.length;
}

/** Exports and removes up to MAX_BATCHES × BATCH events older than `days`, oldest day first. */
export async function exportOldEvents(c: PoolClient, dir: string, days: number): Promise<{ exported: number; removed: number; days: string[] }> {
  let exported = 0;
  let removed = 0;
  const touched = new Set<string>();
  for (let i = 0; i < MAX_BATCHES; i++) {
    const rows = await oldestEventsDay<EventRow>(c, days, BATCH);
    if (rows.length === 0) break;
    const day = rows[0]!.occurred.toISOString().slice(0, 10);
    exported += await mergeIntoDayFile(dir, day, rows);
    removed += await deleteEvents(c, rows.map((r) => r.id));
    touched.add(day);
  }
  return { exported, removed, days: [...touched] };
}

/** Temporary files of exports that died before their rename, older than an hour. */
export async function sweepExportTemps(dir: string, maxAgeMs = 3_600_000): Promise<number> {
  let n = 0;
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!/^\.events-.*\.tmp$/.test(name)) continue;
    const s = await stat(join(dir, name)).catch(() => undefined);
    if (s && Date.now() - s.mtimeMs > maxAgeMs) { await rm(join(dir, name), { force: true }); n++; }
  }
  return n;
}

export function eventExportJob(o: RuntimeOptions): ClusterJob {
  return {
    name: 'event-export',
    intervalMs: o.eventExportJobMs,
    run: async (c) => {
      const days = await numberSetting(c, EVENT_RETENTION_SETTING, DEFAULT_EVENT_RETENTION_DAYS);
      if (days < 1) return `event export off (${EVENT_RETENTION_SETTING} is 0)`;
      const dir = resolvePaths(await getSharedPaths(c))?.EventExports;
      if (!dir) return 'no shared storage';
      await setJobIdleLimit(c, EXPORT_IDLE_LIMIT_MS);
      const swept = await sweepExportTemps(dir);
      const r = await exportOldEvents(c, dir, Math.floor(days));
      if (r.removed === 0) return swept ? `removed ${swept} stale temporary file(s)` : 'no events to export';
      return `exported ${r.removed} event(s) older than ${days} day(s) to ${r.days.map(exportFileName).join(', ')} in ${dir}${r.exported !== r.removed ? ` (${r.removed - r.exported} were already there)` : ''}`;
    },
  };
}
