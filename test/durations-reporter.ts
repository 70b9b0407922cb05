// A node:test reporter that prints, once the run ends, how long each test file took: the sum of its
// top-level tests and suites, their hooks included (process start-up and module loading are not).
// test/run.ts adds it beside the spec reporter, so every run shows where the time goes.
import { basename } from 'node:path';

interface TestEvent { type: string; data: { nesting?: number; file?: string; details?: { duration_ms?: number } } }

export default async function* durations(source: AsyncIterable<TestEvent>): AsyncGenerator<string> {
  const perFile = new Map<string, number>();
  for await (const e of source) {
    if ((e.type === 'test:pass' || e.type === 'test:fail') && e.data.nesting === 0 && e.data.file) {
      perFile.set(e.data.file, (perFile.get(e.data.file) ?? 0) + (e.data.details?.duration_ms ?? 0));
    }
  }
  const rows = [...perFile].sort((a, b) => b[1] - a[1]);
  const seconds = (ms: number) => (ms / 1000).toFixed(1).padStart(7);
  yield '\n# Time per test file (top-level tests and suites with their hooks), longest first:\n';
  for (const [file, ms] of rows) yield `# ${seconds(ms)} s  ${basename(file).replace(/\.js$/, '.ts')}\n`;
  yield `# ${seconds(rows.reduce((s, [, ms]) => s + ms, 0))} s  summed over ${rows.length} files\n`;
}
