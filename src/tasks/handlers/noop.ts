import Type from 'typebox';
import type { TaskHandler } from '../handler.js';

/** Does nothing but log one line: smoke checks, and the benchmark of the queue itself. */
export const noopHandler: TaskHandler = {
  name: 'Noop',
  description: 'Do nothing (smoke checks and benchmarks)',
  safeToRerun: true,
  quiet: true,
  argumentsSchema: Type.Object({ TimeoutSeconds: Type.Optional(Type.Unknown()) }, { additionalProperties: true }),
  permissions: { queue: 'TaskCreate', view: 'TaskView', cancel: 'TaskCancel', rerun: 'TaskCreate' },
  run(ctx) {
    // Not awaited: the engine's close waits for it, and the line goes out with the close record.
    void ctx.log.info(`Noop task completed on node ${ctx.nodeName}`);
    return Promise.resolve({ kind: 'success' });
  },
};
