import type { Command } from 'commander';
import { readConfig } from '../../config/home.js';
import { openPool } from '../../db/pool.js';
import { deleteSetting, getSetting, putSetting } from '../../cluster/queries.js';
import { UsageError } from '../../errors.js';
import { KNOWN_SETTINGS, knownSetting } from '../../ops/settings.js';
import { homeOf, homeOption, stdio } from '../shared.js';

/**
 * Cluster settings (retention periods, package limits, who may scrape metrics): stored once in the
 * database, read by every node. No arguments lists them; KEY shows one; KEY VALUE changes it.
 */
export function settingCommand(program: Command): void {
  homeOption(program.command('setting'))
    .description('show or change a cluster setting (retention, package limits, metrics access); no arguments lists them all')
    .argument('[key]', 'the setting')
    .argument('[value]', 'its new value')
    .option('--unset', 'go back to the default')
    .action(async (key: string | undefined, value: string | undefined, opts: { home?: string; unset?: boolean }) => {
      if (opts.unset && (key === undefined || value !== undefined)) throw new UsageError('--unset takes a setting and no value: `cuttle setting KEY --unset`.');
      const known = key === undefined ? undefined : knownSetting(key);
      const stored = known && value !== undefined ? known.parse(value) : undefined;
      const pool = await openPool(readConfig(homeOf(opts)).databaseUrl, { max: 1, applicationName: 'cuttle setting' });
      try {
        if (known && opts.unset) {
          await deleteSetting(pool, known.key);
          stdio.line(`${known.key} is back to its default, ${JSON.stringify(known.fallback)}; every node uses it from its next read.`);
          return;
        }
        if (known && value !== undefined) {
          await putSetting(pool, known.key, stored);
          stdio.line(`${known.key} = ${JSON.stringify(stored)} for the whole cluster; every node uses it from its next read.`);
          return;
        }
        for (const s of known ? [known] : KNOWN_SETTINGS) {
          const v = await getSetting<unknown>(pool, s.key);
          stdio.line(`${s.key} = ${JSON.stringify(v ?? s.fallback)}${v === undefined ? ' (default)' : ''}  — ${s.description}`);
        }
      } finally {
        await pool.end();
      }
    });
}
