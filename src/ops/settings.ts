// The cluster settings an operator may change with `cuttle setting` (rows of the `settings` table,
// read by every node): what each means, its default, and how a value is checked before it is stored.
import { InputError } from '../errors.js';
import { DEFAULT_LIMITS } from '../packages/archive.js';
import { SCRAPE_SETTING, parseScrapeFrom } from './access.js';
import { DEFAULT_EVENT_RETENTION_DAYS, EVENT_RETENTION_SETTING } from './eventExport.js';
import { DEFAULT_TELEMETRY_RETENTION_DAYS, TELEMETRY_RETENTION_SETTING } from './telemetry.js';

export interface KnownSetting {
  readonly key: string;
  readonly description: string;
  readonly fallback: unknown;
  /** The stored value for what the operator typed; throws an InputError naming the problem. */
  parse(text: string): unknown;
}

function wholeNumber(key: string, min = 0): (text: string) => number {
  return (text) => {
    const v = /^\s*\d+\s*$/.test(text) ? Number(text) : NaN;
    if (!Number.isSafeInteger(v) || v < min) throw new InputError(`${key} takes a whole number of at least ${min}; "${text}" is not one.`);
    return v;
  };
}

export const KNOWN_SETTINGS: readonly KnownSetting[] = [
  { key: 'task_log_retention_days', description: 'days a finished task\'s log and artifacts are kept', fallback: 30, parse: wholeNumber('task_log_retention_days') },
  { key: 'offline_node_retention_days', description: 'days an offline node stays listed before it is removed', fallback: 7, parse: wholeNumber('offline_node_retention_days') },
  { key: EVENT_RETENTION_SETTING, description: 'days audit events stay in the database before they are exported to EventExports (0 = never exported)', fallback: DEFAULT_EVENT_RETENTION_DAYS, parse: wholeNumber(EVENT_RETENTION_SETTING) },
  { key: TELEMETRY_RETENTION_SETTING, description: 'days telemetry files are kept in the Telemetry folder (0 = kept for ever)', fallback: DEFAULT_TELEMETRY_RETENTION_DAYS, parse: wholeNumber(TELEMETRY_RETENTION_SETTING) },
  {
    key: SCRAPE_SETTING, description: 'addresses and CIDR blocks that may read /metrics without signing in (JSON list)', fallback: [],
    parse: (text) => {
      let v: unknown;
      try {
        v = JSON.parse(text);
      } catch {
        throw new InputError(`${SCRAPE_SETTING} takes a JSON list such as '["10.0.0.0/8", "127.0.0.1"]'; "${text}" is not JSON.`);
      }
      parseScrapeFrom(v);
      return v;
    },
  },
  { key: 'packages.retention_keep', description: 'package versions no release uses that are kept per package id (0 = all kept)', fallback: 0, parse: wholeNumber('packages.retention_keep') },
  { key: 'packages.max_upload_mb', description: 'largest package upload, in MB', fallback: 10_240, parse: wholeNumber('packages.max_upload_mb', 1) },
  { key: 'packages.max_entries', description: 'most entries an uploaded archive may hold', fallback: DEFAULT_LIMITS.maxEntries, parse: wholeNumber('packages.max_entries', 1) },
  { key: 'packages.max_expanded_mb', description: 'largest size an archive may expand to, in MB', fallback: DEFAULT_LIMITS.maxExpandedBytes / 1024 / 1024, parse: wholeNumber('packages.max_expanded_mb', 1) },
  { key: 'packages.max_ratio', description: 'highest expansion ratio of an archive entry (zip bombs)', fallback: DEFAULT_LIMITS.maxRatio, parse: wholeNumber('packages.max_ratio', 1) },
  { key: 'packages.temp_max_age_seconds', description: 'seconds before an unfinished upload\'s temporary file is swept', fallback: 3600, parse: wholeNumber('packages.temp_max_age_seconds', 60) },
];

export function knownSetting(key: string): KnownSetting {
  const s = KNOWN_SETTINGS.find((k) => k.key === key);
  if (!s) throw new InputError(`There is no setting "${key}"; run \`cuttle setting\` to list them.`);
  return s;
}
