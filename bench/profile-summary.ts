// Where the nodes' CPU time went: reads the .cpuprofile files a BENCH_PROFILE=<dir> run left and
// prints self time by function and by package/source file, over all profiles in the folder.
//   node dist/bench/profile-summary.js <dir> [top=25]
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
interface Profile { nodes: ProfileNode[]; startTime: number; endTime: number; samples: number[]; timeDeltas: number[] }

const dir = process.argv[2];
const top = Number(process.argv[3] ?? 25);
if (!dir) throw new Error('usage: profile-summary <dir> [top]');

/** node_modules/<pkg>, src/<file>, node:internal, or the (program)/(idle)/(gc) pseudo-frames. */
function place(url: string, fn: string): string {
  if (!url) return fn.startsWith('(') ? fn : '(native)';
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1]!;
  if (url.startsWith('node:')) return 'node:' + url.slice(5).split('/')[0];
  const d = /\/dist\/(.*)$/.exec(url);
  return d ? d[1]! : url;
}

const byFn = new Map<string, number>();
const byPlace = new Map<string, number>();
let total = 0;
for (const f of readdirSync(dir).filter((x) => x.endsWith('.cpuprofile'))) {
  const p = JSON.parse(readFileSync(join(dir, f), 'utf8')) as Profile;
  const nodes = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // Native and Node-internal work (a write, a mkdir) is charged, by place, to the application or
  // package code that asked for it.
  const up = (x: ProfileNode) => nodes.get(parent.get(x.id) ?? -1);
  const caller = (n: ProfileNode): ProfileNode => {
    if (n.callFrame.functionName.startsWith('(')) return n; // (idle), (program), (garbage collector)
    for (let x: ProfileNode | undefined = n; x; x = up(x)) if (x.callFrame.url && !x.callFrame.url.startsWith('node:')) return x;
    for (let x: ProfileNode | undefined = n; x; x = up(x)) if (x.callFrame.url) return x;
    return n;
  };
  // Self time: each sample's time delta is charged to the frame on top of the stack.
  p.samples.forEach((id, i) => {
    const n = nodes.get(id)!;
    const us = p.timeDeltas[i] ?? 0;
    const { functionName, url, lineNumber } = n.callFrame;
    const c = caller(n).callFrame;
    const where = place(c.url, c.functionName);
    const fn = c === n.callFrame ? `${functionName || '(anonymous)'} ${where}${url ? `:${lineNumber + 1}` : ''}`
      : `${functionName || '(anonymous)'} ${place(url, functionName)} ← ${c.functionName || '(anonymous)'} ${where}:${c.lineNumber + 1}`;
    byFn.set(fn, (byFn.get(fn) ?? 0) + us);
    byPlace.set(where, (byPlace.get(where) ?? 0) + us);
    total += us;
  });
}
// Shares of the busy time: a node waiting on the database shows as (idle), which says nothing of its cost.
const idle = byPlace.get('(idle)') ?? 0;
byPlace.delete('(idle)');
byFn.delete('(idle) (idle)');
const table = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).slice(0, top)
  .map(([k, us]) => `${(us / 1000).toFixed(0).padStart(8)} ms ${((100 * us) / (total - idle)).toFixed(1).padStart(5)} %  ${k}`);
process.stdout.write(JSON.stringify({
  profiled_ms: Math.round(total / 1000), idle_ms: Math.round(idle / 1000), busy_ms: Math.round((total - idle) / 1000),
  by_place: table(byPlace), by_function: table(byFn),
}, null, 2) + '\n');
