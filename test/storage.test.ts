import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { ADMIN_API_KEY, BIN, FAST_TIMINGS, api, readyCluster, cuttle, startNode, tempDir, waitFor, type NodeProcess, type TestCluster } from './helpers.js';

// A node whose "shared" folder is really another folder: the node runs in a mount namespace of
// its own in which the cluster's shared path is a bind mount of a different, private folder.
const canUnshare = process.getuid?.() === 0 && spawnSync('unshare', ['-m', '--propagation', 'private', 'true']).status === 0;

/** Runs argv in a private mount namespace where `path` shows `other` instead. */
function withPrivateMount(other: string, path: string): (argv: string[]) => string[] {
  return (argv) => ['unshare', '-m', '--propagation', 'private', 'sh', '-c', 'mount --bind "$1" "$2" && shift 2 && exec "$@"', 'sh', other, path, ...argv];
}

async function summary(base: string): Promise<any[]> {
  const r = await api(base, '/api/octopusservernodes/summary', { apiKey: ADMIN_API_KEY });
  assert.equal(r.status, 200);
  return r.body.Nodes as any[];
}

describe('a node whose shared folder is not the folder the others see', { skip: canUnshare ? false : 'needs root and unshare -m (mount namespaces)' }, () => {
  let c: TestCluster;
  let a: NodeProcess;
  let b: NodeProcess;
  let other: string;

  before(async () => {
    c = await readyCluster(['share-a', 'share-b']);
    other = tempDir('cuttle-not-shared-');
    a = await startNode(c.homes[0]!, 'share-a');
    b = await startNode(c.homes[1]!, 'share-b', {}, undefined, withPrivateMount(other, c.shared));
  });
  after(async () => { await Promise.all([a.kill('SIGTERM'), b.kill('SIGTERM')]); });

  it('reports a Problem for both nodes, naming both, in the node summary API of every node', async () => {
    for (const n of [a, b]) {
      // Each node's own periodic check must have found the other's beacon missing, in both directions.
      const listed = await waitFor(`${n.name} to report the storage problem both ways`, async () => {
        const nodes = await summary(n.url);
        const seen = (x: any, text: string) => (x.SharedStorage.Problems as string[]).some((p) => p.startsWith(text));
        const [xa, xb] = [nodes.find((x) => x.Name === 'share-a'), nodes.find((x) => x.Name === 'share-b')];
        return xa && xb && seen(xa, "share-a cannot see share-b's beacon") && seen(xb, "share-b cannot see share-a's beacon") ? nodes : undefined;
      }, 15_000, 200);
      for (const x of listed) assert.equal(x.SharedStorage.Status, 'Problem');
      for (const x of listed) {
        const text = (x.SharedStorage.Problems as string[]).join('\n');
        assert.match(text, /share-a/, `${x.Name}'s problems name share-a`);
        assert.match(text, /share-b/, `${x.Name}'s problems name share-b`);
        assert.match(text, /do not share that folder/);
      }
    }
  });

  it('prints the problem in `cuttle nodes`, on lines starting with "!"', () => {
    const r = cuttle(['nodes', '--home', c.homes[0]!]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^share-a\s+Running\s.*\sProblem$/m);
    assert.match(r.stdout, /^share-b\s+Running\s.*\sProblem$/m);
    assert.match(r.stdout, /^! share-b: share-b cannot see share-a's beacon/m);
    assert.match(r.stdout, /^! share-a: share-a cannot see share-b's beacon/m);
  });

  it('makes `cuttle doctor` fail on the odd node, seen from inside its own mount namespace', () => {
    // nsenter joins the mount namespace of node B's process: doctor sees exactly what B sees.
    const r = spawnSync('nsenter', ['-t', String(b.child.pid), '-m', process.execPath, BIN, 'doctor', '--home', c.homes[1]!], {
      encoding: 'utf8', env: { ...process.env, ...FAST_TIMINGS }, timeout: 60_000,
    });
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /^FAIL\s+cannot see share-a's beacon in \w+ .*not the folder share-a uses/m);
    assert.match(r.stdout, /problem\(s\) found/);
  });

  it('makes `cuttle doctor` fail on the other node too, and logs the problem on the odd node', () => {
    const r = cuttle(['doctor', '--home', c.homes[0]!]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /^FAIL\s+cannot see share-b's beacon/m);
    assert.match(b.output(), /shared storage problem/);
  });

  it('reports Ok again once the node is restarted on the real shared folder', async () => {
    await b.kill('SIGTERM');
    b = await startNode(c.homes[1]!, 'share-b');
    await waitFor('both nodes to report Ok', async () => {
      const nodes = await summary(a.url);
      return nodes.length === 2 && nodes.every((x) => !x.IsOffline && x.SharedStorage.Status === 'Ok');
    }, 15_000, 200);
    const d = cuttle(['doctor', '--home', c.homes[1]!]);
    assert.equal(d.code, 0, d.stdout);
  });
});
