import Type from 'typebox';
import type { TaskHandler } from '../handler.js';
import { SCRIPT_SYNTAXES, type ScriptSyntax } from '../runner.js';

const MAX_SCRIPT = 1024 * 1024;

interface AdHocArguments { readonly ScriptBody: string; readonly Syntax: ScriptSyntax; readonly [k: string]: unknown }

/**
 * Octopus's script console: one script on the built-in worker. Running arbitrary code on the server
 * is an administrator's right, as in Octopus; it is not re-run after a node dies unless asked.
 */
export const adHocScriptHandler: TaskHandler<AdHocArguments> = {
  name: 'AdHocScript',
  description: 'Run an ad-hoc script',
  safeToRerun: false,
  argumentsSchema: Type.Object({
    ScriptBody: Type.String({ minLength: 1 }),
    Syntax: Type.Optional(Type.Enum([...SCRIPT_SYNTAXES])),
    TimeoutSeconds: Type.Optional(Type.Unknown()),
  }, { additionalProperties: true }),
  // Its script and output may hold anything of the server's: only an administrator sees or stops it.
  permissions: { queue: 'AdministerSystem', view: 'AdministerSystem', cancel: 'AdministerSystem', rerun: 'AdministerSystem' },
  prepare(args, errors) {
    if (args.ScriptBody.trim() === '') errors.push('Arguments.ScriptBody must hold the script; it is empty.');
    if (Buffer.byteLength(args.ScriptBody) > MAX_SCRIPT) errors.push('Arguments.ScriptBody is larger than 1 MiB.');
    return { arguments: { ...args, Syntax: args.Syntax ?? 'Bash' }, timeoutSeconds: 3600 };
  },
  async run(ctx) {
    const step = ctx.log.child('Run the script on the built-in worker');
    const outcome = await ctx.runScript({ body: ctx.args.ScriptBody, syntax: ctx.args.Syntax, log: step });
    // (A step that logged a warning ends SuccessWithWarning: the log block decides that.)
    await step.end(outcome.kind === 'success' ? 'Success' : outcome.kind === 'canceled' ? 'Canceled' : 'Failed');
    return outcome;
  },
};
