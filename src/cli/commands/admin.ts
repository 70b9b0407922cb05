import type { Command } from 'commander';
import { withTransaction } from '../../db/pool.js';
import { addApiKey, createOrResetAdmin } from '../../auth/users.js';
import { isApiKeyFormat } from '../../crypto/secrets.js';
import { UsageError } from '../../errors.js';
import { validatePassword, validateUsername } from '../../auth/users.js';
import { homeOption, openHome, stdio } from '../shared.js';

export function adminCommand(program: Command): void {
  homeOption(program.command('admin'))
    .description('create or reset an administrator; --api-key registers that key for the user')
    .requiredOption('--username <name>', 'the administrator\'s user name')
    .option('--password <password>', 'set this password (required when the user is new)')
    .option('--api-key <key>', 'register this API key (API-…) for the user')
    .action(async (opts: { home?: string; username: string; password?: string; apiKey?: string }) => {
      validateUsername(opts.username);
      if (opts.password !== undefined) validatePassword(opts.password);
      if (opts.apiKey !== undefined && !isApiKeyFormat(opts.apiKey)) {
        throw new UsageError('--api-key must look like API- followed by 16 to 64 upper-case letters or digits.');
      }
      const h = await openHome(opts);
      try {
        const r = await withTransaction(h.pool, async (c) => {
          const u = await createOrResetAdmin(c, opts.username, opts.password);
          if (opts.apiKey) await addApiKey(c, u.user.id, 'cuttle admin', opts.apiKey);
          return u;
        });
        stdio.line(`${r.created ? 'Created' : 'Updated'} administrator ${r.user.username} (${r.user.id})${opts.apiKey ? ' and registered the API key' : ''}.`);
      } finally {
        await h.pool.end();
      }
    });
}
