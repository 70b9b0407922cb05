import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Queryable } from '../db/pool.js';

export interface ArtifactRow {
  readonly id: string;
  readonly spaceId: string;
  readonly taskId: string;
  readonly filename: string;
  readonly relPath: string;
  readonly length: number;
  readonly created: Date;
}

interface RawArtifact { id: string; space_id: string; task_id: string; filename: string; rel_path: string; length: number; created: Date }

function toArtifact(r: RawArtifact): ArtifactRow {
  return { id: r.id, spaceId: r.space_id, taskId: r.task_id, filename: r.filename, relPath: r.rel_path, length: Number(r.length), created: r.created };
}

/** A file name that is safe on every share: no folders, no control characters, bounded length. */
export function safeFileName(name: string): string {
  const base = basename(name.replace(/\\/g, '/')).replace(/[^A-Za-z0-9._ -]/g, '_').replace(/^\.+/, '_').slice(0, 200);
  return base || 'artifact';
}

/**
 * Copies a file a script produced into the shared Artifacts folder (temp file in the same folder,
 * fsync, rename: readers never see half a file) and records it.
 */
export async function collectArtifact(db: Queryable, artifactsDir: string, taskId: string, spaceId: string, source: string, name: string): Promise<ArtifactRow> {
  const s = await stat(source);
  if (!s.isFile()) throw new Error(`${source} is not a file`);
  const filename = safeFileName(name);
  const folder = join(artifactsDir, taskId);
  // Not recursive: a missing Artifacts folder (an unmounted share) must fail, not be recreated locally.
  await mkdir(folder).catch((e: NodeJS.ErrnoException) => { if (e.code !== 'EEXIST') throw e; });
  const unique = `${randomBytes(6).toString('hex')}-${filename}`;
  const tmp = join(folder, `.${unique}.tmp`);
  try {
    await copyFile(source, tmp);
    const fh = await open(tmp, 'r+');
    await fh.sync();
    await fh.close();
    await rename(tmp, join(folder, unique));
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  const r = await db.query<RawArtifact>(
    `INSERT INTO artifacts (id, space_id, task_id, filename, rel_path, length)
     VALUES ('Artifacts-' || nextval('artifacts_seq'), $1, $2, $3, $4, $5) RETURNING *`,
    [spaceId, taskId, filename, join(taskId, unique), s.size]);
  return toArtifact(r.rows[0] as RawArtifact);
}

export async function listArtifacts(db: Queryable, spaceId: string, regarding: string | undefined, skip: number, take: number): Promise<{ items: ArtifactRow[]; total: number }> {
  const params: unknown[] = [spaceId];
  let where = 'space_id = $1';
  if (regarding) { params.push(regarding); where += ' AND task_id = $2'; }
  const total = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM artifacts WHERE ${where}`, params);
  const r = await db.query<RawArtifact>(`SELECT * FROM artifacts WHERE ${where} ORDER BY created DESC, id DESC OFFSET ${skip} LIMIT ${take}`, params);
  return { items: r.rows.map(toArtifact), total: total.rows[0]?.n ?? 0 };
}

export async function getArtifact(db: Queryable, id: string): Promise<ArtifactRow | undefined> {
  const r = await db.query<RawArtifact>('SELECT * FROM artifacts WHERE id = $1', [id]);
  const row = r.rows[0];
  return row ? toArtifact(row) : undefined;
}
