import type { Queryable } from '../db/pool.js';

// The SQL of the built-in feed. Every statement names the space: a package of one space is
// invisible from another.

export interface PackageRow {
  space_id: string; id: string; package_id: string; version: string; version_sort: string; file_extension: string;
  size: string; hash: string; rel_path: string; published: Date;
}

export interface BuildInformationRow { space_id: string; id: string; package_id: string; version: string; doc: Record<string, unknown>; created: Date }

/** Serialises pushes of one package version across nodes until the transaction ends. */
export async function lockPackageVersion(db: Queryable, spaceId: string, packageId: string, version: string): Promise<void> {
  await db.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 7))', [`${spaceId}/${packageId.toLowerCase()}/${version.toLowerCase()}`]);
}

export async function selectPackageVersion(db: Queryable, spaceId: string, packageId: string, version: string): Promise<PackageRow | undefined> {
  const r = await db.query<PackageRow>('SELECT * FROM packages WHERE space_id = $1 AND lower(package_id) = lower($2) AND lower(version) = lower($3)', [spaceId, packageId, version]);
  return r.rows[0];
}

export async function selectPackage(db: Queryable, spaceId: string, id: string, lock = false): Promise<PackageRow | undefined> {
  const r = await db.query<PackageRow>(`SELECT * FROM packages WHERE space_id = $1 AND id = $2${lock ? ' FOR UPDATE' : ''}`, [spaceId, id]);
  return r.rows[0];
}

export interface NewPackage { spaceId: string; id: string; packageId: string; version: string; versionSort: string; extension: string; size: number; hash: string; relPath: string }

export async function upsertPackage(db: Queryable, p: NewPackage): Promise<PackageRow> {
  const r = await db.query<PackageRow>(
    `INSERT INTO packages (space_id, id, package_id, version, version_sort, file_extension, size, hash, rel_path)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     ON CONFLICT (space_id, id) DO UPDATE SET file_extension = $6, size = $7, hash = $8, rel_path = $9, published = now()
     RETURNING *`,
    [p.spaceId, p.id, p.packageId, p.version, p.versionSort, p.extension, p.size, p.hash, p.relPath]);
  return r.rows[0]!;
}

export async function deletePackageRow(db: Queryable, spaceId: string, id: string): Promise<void> {
  await db.query('DELETE FROM packages WHERE space_id = $1 AND id = $2', [spaceId, id]);
}

export interface PackageFilter { filter?: string; packageId?: string; latest: boolean; skip: number; take: number }

/** A page of packages, newest version first per id; `latest`: only each id's greatest version. */
export async function selectPackagePage(db: Queryable, spaceId: string, f: PackageFilter): Promise<{ rows: PackageRow[]; total: number }> {
  const where = ['space_id = $1'];
  const values: unknown[] = [spaceId];
  if (f.filter) { values.push(f.filter); where.push(`position(lower($${values.length}) in lower(package_id)) > 0`); }
  if (f.packageId) { values.push(f.packageId); where.push(`lower(package_id) = lower($${values.length})`); }
  const base = f.latest
    ? `SELECT DISTINCT ON (lower(package_id)) * FROM packages WHERE ${where.join(' AND ')} ORDER BY lower(package_id), version_sort DESC`
    : `SELECT * FROM packages WHERE ${where.join(' AND ')}`;
  const total = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM (${base}) x`, values);
  const rows = await db.query<PackageRow>(`SELECT * FROM (${base}) x ORDER BY lower(package_id), version_sort DESC OFFSET $${values.length + 1} LIMIT $${values.length + 2}`, [...values, f.skip, f.take]);
  return { rows: rows.rows, total: total.rows[0]?.n ?? 0 };
}

/** The greatest version of a package in the space: the greatest release when there is one, else the greatest pre-release. */
export async function selectLatestVersion(db: Queryable, spaceId: string, packageId: string): Promise<PackageRow | undefined> {
  const r = await db.query<PackageRow>(
    `SELECT * FROM packages WHERE space_id = $1 AND lower(package_id) = lower($2)
      ORDER BY (version_sort LIKE '%~') DESC, version_sort DESC LIMIT 1`, [spaceId, packageId]);
  return r.rows[0];
}

/** Every file the feed's rows point at (the sweep keeps these). */
export async function selectPackagePaths(db: Queryable): Promise<Set<string>> {
  const r = await db.query<{ rel_path: string }>('SELECT rel_path FROM packages');
  return new Set(r.rows.map((x) => x.rel_path));
}

export async function selectBuildInformation(db: Queryable, spaceId: string, packageId: string, version: string): Promise<BuildInformationRow | undefined> {
  const r = await db.query<BuildInformationRow>('SELECT * FROM build_information WHERE space_id = $1 AND lower(package_id) = lower($2) AND lower(version) = lower($3)', [spaceId, packageId, version]);
  return r.rows[0];
}

export async function upsertBuildInformation(db: Queryable, spaceId: string, id: string, packageId: string, version: string, doc: object): Promise<BuildInformationRow> {
  const r = await db.query<BuildInformationRow>(
    `INSERT INTO build_information (space_id, id, package_id, version, doc) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (space_id, id) DO UPDATE SET doc = $5, created = now() RETURNING *`,
    [spaceId, id, packageId, version, JSON.stringify(doc)]);
  return r.rows[0]!;
}

/**
 * Package versions that no release selects, beyond the newest `keep` of each id (retention), at
 * most `limit` of them, oldest first.
 */
export async function selectUnusedPackages(db: Queryable, keep: number, limit: number): Promise<PackageRow[]> {
  const r = await db.query<PackageRow>(
    `SELECT p.* FROM (
       SELECT *, row_number() OVER (PARTITION BY space_id, lower(package_id) ORDER BY version_sort DESC) AS rank FROM packages) p
      WHERE p.rank > $1
        AND NOT EXISTS (SELECT 1 FROM releases r, jsonb_array_elements(r.doc -> 'SelectedPackages') s
                         WHERE r.space_id = p.space_id AND lower(s ->> 'PackageId') = lower(p.package_id) AND lower(s ->> 'Version') = lower(p.version))
      ORDER BY p.published LIMIT $2`, [keep, limit]);
  return r.rows;
}
