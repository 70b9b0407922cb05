// One graphile-worker process for the benchmark's reference: a no-op task, the concurrency from
// GRAPHILE_CONCURRENCY, the database from DATABASE_URL. Run as a child process, like a Cuttle node,
// so the reference does not share an event loop with the benchmark's clients. Prints "ready" once
// it runs, and stops cleanly (its jobs unlocked) on SIGTERM.
import { Logger, run } from 'graphile-worker';

const silent = new Logger(() => () => undefined);
const runner = await run({
  connectionString: process.env.DATABASE_URL!,
  concurrency: Number(process.env.GRAPHILE_CONCURRENCY ?? 5),
  noHandleSignals: true,
  // New jobs arrive by LISTEN/NOTIFY (add_job/add_jobs notify); the poll is only the fallback.
  pollInterval: 1000,
  taskList: { noop: () => Promise.resolve() },
  logger: silent,
});
process.stdout.write('ready\n');
process.once('SIGTERM', () => {
  void runner.stop().finally(() => process.exit(0));
});
