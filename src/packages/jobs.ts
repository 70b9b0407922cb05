// The feed's cluster-wide jobs (one node at a time): the sweep of stale uploads and of files no
// row names, and retention of package versions no release uses beyond the newest N of each id.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClusterJob } from '../cluster/jobs.js';
import type { RuntimeOptions } from '../config/options.js';
import { getSharedPaths, resolvePaths } from '../storage/sharedPaths.js';
import { numberSetting } from '../tasks/queries.js';
import { sweepPackages, type FeedAudit } from './feed.js';
import { deletePackageRow, selectUnusedPackages } from './queries.js';

export function packageJobs(o: RuntimeOptions, audit: FeedAudit): ClusterJob[] {
  return [
    {
      name: 'package-sweep',
      intervalMs: o.retentionJobMs,
      run: async (c) => {
        const dir = resolvePaths(await getSharedPaths(c))?.Packages;
        if (!dir) return 'no shared storage';
        const maxAge = await numberSetting(c, 'packages.temp_max_age_seconds', 3600);
        const r = await sweepPackages(c, dir, maxAge * 1000);
        return `removed ${r.temps} stale upload(s) and ${r.strays} unnamed file(s)`;
      },
    },
    {
      name: 'package-retention',
      intervalMs: o.retentionJobMs,
      run: async (c) => {
        const keep = await numberSetting(c, 'packages.retention_keep', 0);
        if (keep < 1) return 'retention off (packages.retention_keep is 0)';
        const dir = resolvePaths(await getSharedPaths(c))?.Packages;
        if (!dir) return 'no shared storage';
        const rows = await selectUnusedPackages(c, keep, 500);
        for (const r of rows) {
          await deletePackageRow(c, r.space_id, r.id);
          await audit(c, {
            spaceId: r.space_id, category: 'Deleted',
            message: `Removed package ${r.package_id} ${r.version} from the built-in feed: no release uses it and ${keep} newer version(s) are kept`,
            relatedDocumentIds: [r.id, 'feeds-builtin'],
          });
        }
        return {
          result: rows.length ? `removed ${rows.length} unused package version(s)` : 'nothing to remove',
          // Files go after the commit; one left behind by a failure here is the sweep's.
          afterCommit: async () => { for (const r of rows) await rm(join(dir, r.rel_path), { force: true }).catch(() => undefined); },
        };
      },
    },
  ];
}
