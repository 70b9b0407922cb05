import type { Command } from 'commander';
import { readConfig } from '../../config/home.js';
import { openPool } from '../../db/pool.js';
import { latestKnownVersion, migrate } from '../../db/migrate.js';
import { UsageError } from '../../errors.js';
import { homeOf, homeOption, stdio } from '../shared.js';

export function databaseCommand(program: Command): void {
  homeOption(program.command('database'))
    .description('database maintenance: --upgrade brings the schema up to this version (safe while nodes run)')
    .option('--upgrade', 'apply the migrations this version knows')
    .option('--database <url>', 'the database to upgrade (default: the one in the home\'s config)')
    .action(async (opts: { home?: string; upgrade?: boolean; database?: string }) => {
      if (!opts.upgrade) throw new UsageError('Say what to do: `cuttle database --upgrade`.');
      const url = opts.database ?? readConfig(homeOf(opts)).databaseUrl;
      const pool = await openPool(url, { max: 2, applicationName: 'cuttle database' });
      try {
        const r = await migrate(pool);
        stdio.line(r.applied.length
          ? `Upgraded the schema from version ${r.from} to ${r.to} (${r.applied.join(', ')}).`
          : `The schema is already at version ${r.to}, the newest this Cuttle knows (${latestKnownVersion()}).`);
      } finally {
        await pool.end();
      }
    });
}
