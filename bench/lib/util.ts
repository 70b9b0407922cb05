// Small helpers shared by the benchmark sections.

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export const round = (v: number, digits = 2) => +v.toFixed(digits);

/** a / b rounded, or null when either side was not measured (a section skipped). */
export function ratio(a: number | undefined, b: number | undefined): number | null {
  return a === undefined || b === undefined || b === 0 ? null : round(a / b);
}

/** A rate record: what was done, in how long. */
export function rate(count: number, ms: number, key = 'tasks_per_second'): { seconds: number } & Record<string, number> {
  return { seconds: round(ms / 1000, 3), [key]: Math.round(count / (ms / 1000)) };
}

/** The median result (by `key`), with every result's figure: one run on a loaded machine is noise. */
export function median<T extends Record<string, unknown>>(results: readonly T[], key: keyof T & string): T & { runs: number[] } {
  const sorted = [...results].sort((a, b) => Number(a[key]) - Number(b[key]));
  return { ...sorted[Math.floor((sorted.length - 1) / 2)]!, runs: results.map((r) => Number(r[key])) };
}

/** Runs a throughput measurement `runs` times and reports the median run. */
export async function medianOf<T extends Record<string, unknown>>(runs: number, run: () => Promise<T>, key: keyof T & string): Promise<T & { runs: number[] }> {
  const results: T[] = [];
  for (let i = 0; i < runs; i++) results.push(await run());
  return median(results, key);
}

/** Polls `done` every `everyMs` until it holds; throws with `diagnose()`'s text after `timeoutMs`. */
export async function until(done: () => Promise<boolean>, everyMs: number, timeoutMs: number, diagnose: () => Promise<string>): Promise<void> {
  const started = Date.now();
  while (!(await done())) {
    if (Date.now() - started > timeoutMs) throw new Error(`stalled after ${timeoutMs} ms: ${await diagnose()}`);
    await sleep(everyMs);
  }
}

/**
 * Runs two measurements alternately, `runs` times each, and reports each side's median: the other
 * jobs on a shared machine come and go, and alternating lets both sides see the same load. First,
 * `warmup` unmeasured runs of each side (a fresh process compiles its hot paths and a fresh
 * database connection fills its caches during its first thousands of tasks); their figures are
 * reported as `warmup_runs`, beside the measured `runs`.
 */
export async function pairedMedians<A extends Record<string, unknown>, B extends Record<string, unknown>>(
  runs: number, a: () => Promise<A>, keyA: keyof A & string, b: () => Promise<B>, keyB: keyof B & string, warmup = 0,
): Promise<[A & { runs: number[]; warmup_runs: number[] }, B & { runs: number[]; warmup_runs: number[] }]> {
  const wa: number[] = [];
  const wb: number[] = [];
  for (let i = 0; i < warmup; i++) { wa.push(Number((await a())[keyA])); wb.push(Number((await b())[keyB])); }
  const as: A[] = [];
  const bs: B[] = [];
  for (let i = 0; i < runs; i++) { as.push(await a()); bs.push(await b()); }
  return [{ ...median(as, keyA), warmup_runs: wa }, { ...median(bs, keyB), warmup_runs: wb }];
}
