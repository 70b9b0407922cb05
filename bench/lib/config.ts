// What to run and how big, from the environment, so a developer can run one section in seconds:
//   BENCH_ONLY=e2e,drain,deep,explain,pickup,failover   sections to run (default: all)
//   BENCH_QUICK=1          small sizes and single runs (each size below still overrides)
//   BENCH_TASKS            Noops per drain/throughput run (5000)
//   BENCH_E2E              tasks posted in the end-to-end run (BENCH_TASKS)
//   BENCH_CLIENTS          concurrent HTTP / addJob clients in the end-to-end run (16)
//   BENCH_RUNS             runs per throughput figure, the median is reported (3)
//   BENCH_WARMUP           unmeasured runs of each side first (1; 0 measures cold processes)
//   BENCH_SHALLOW, BENCH_DEEP, BENCH_TAGS   deep-queue sizes (5000, 100000) and distinct tags (1000)
//   BENCH_EXPLAIN_QUEUED, BENCH_EXPLAIN_FINISHED   rows behind the EXPLAIN plans (100000, 1000000)
//   BENCH_SAMPLES          pickup-latency samples per cluster size (200)
//   BENCH_PROFILE=<dir>    passes --cpu-prof to the Cuttle nodes, profiles land in <dir>

export const SECTIONS = ['pickup', 'drain', 'e2e', 'failover', 'deep', 'explain'] as const;
export type Section = (typeof SECTIONS)[number];

const env = process.env;
const quick = env.BENCH_QUICK !== undefined && env.BENCH_QUICK !== '' && env.BENCH_QUICK !== '0';

function size(name: string, full: number, small: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return quick ? small : full;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name}="${raw}" must be a whole number of at least 1.`);
  return v;
}

function sections(): ReadonlySet<Section> {
  const raw = env.BENCH_ONLY?.trim();
  if (!raw) return new Set(SECTIONS);
  const asked = raw.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = asked.filter((s) => !(SECTIONS as readonly string[]).includes(s));
  if (bad.length) throw new Error(`BENCH_ONLY names unknown section(s) ${bad.join(', ')}; use ${SECTIONS.join(',')}.`);
  return new Set(asked as Section[]);
}

const tasks = size('BENCH_TASKS', 5000, 500);

export const config = Object.freeze({
  quick,
  only: sections(),
  tasks,
  e2eTasks: size('BENCH_E2E', tasks, tasks),
  clients: size('BENCH_CLIENTS', 16, 16),
  runs: size('BENCH_RUNS', 3, 1),
  /** Unmeasured runs of each side before the measured ones (0 to measure cold processes). */
  warmup: env.BENCH_WARMUP === '0' ? 0 : size('BENCH_WARMUP', 1, 1),
  shallow: size('BENCH_SHALLOW', 5000, 500),
  deep: size('BENCH_DEEP', 100_000, 5000),
  tags: size('BENCH_TAGS', 1000, 100),
  explainQueued: size('BENCH_EXPLAIN_QUEUED', 100_000, 5000),
  explainFinished: size('BENCH_EXPLAIN_FINISHED', 1_000_000, 20_000),
  samples: size('BENCH_SAMPLES', 200, 30),
  profileDir: env.BENCH_PROFILE || undefined,
  /** Task cap per Cuttle node and concurrency per graphile-worker process. */
  cap: 5,
});

export const wants = (s: Section) => config.only.has(s);
