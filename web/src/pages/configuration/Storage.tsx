// Shared storage: where every shared folder is (set with `cuttle path`), and what each node found
// there at its last check (GET /api/octopusservernodes/{id}/details → StorageReport).
import { useQueries, useQuery } from '@tanstack/react-query';
import { Ago, ErrorBox, Loading, Page } from '../../components/ui';
import { api } from '../../lib/api';
import { AdminOnly } from './AdminOnly';

interface StorageConfig { ClusterShared: string | null; Folders: Record<string, { Path: string | null; SetIndividually: boolean }>; IsConfigured: boolean; HowToChange: string }
interface NodeSummary { Id: string; Name: string; Status: string; IsOffline?: boolean; LastSeen?: string | null }
interface StorageReport {
  checkedAt?: string;
  folders?: { name: string; path: string; ok: boolean; problem?: string }[];
  unseenPeers?: { node: string; folder: string; problem: string }[];
}
interface NodeDetails extends NodeSummary { StorageReport: StorageReport | null }

function NodeCheck({ node, details, error }: { node: NodeSummary; details: NodeDetails | undefined; error: unknown }) {
  const report = details?.StorageReport ?? undefined;
  const folders = report?.folders ?? [];
  const unseen = report?.unseenPeers ?? [];
  const ok = folders.length > 0 && folders.every((f) => f.ok) && unseen.length === 0;
  return (
    <section className="card">
      <h3>
        {node.Name}{' '}
        {!report?.checkedAt ? <span className="badge">not checked yet</span> : ok ? <span className="badge badge-success">ok</span> : <span className="badge badge-failed">problem</span>}
        {node.IsOffline || node.Status === 'Offline' ? <span className="badge badge-warn">offline</span> : null}
      </h3>
      <ErrorBox error={error} />
      {report?.checkedAt ? (
        <p className="muted small">
          {node.IsOffline || node.Status === 'Offline' ? <>Last checked <Ago at={report.checkedAt} />, before the node went offline.</> : <>Checked <Ago at={report.checkedAt} />.</>}
        </p>
      ) : null}
      {folders.length ? (
        <div className="table-wrap">
          <table>
            <thead><tr><th>Folder</th><th className="hide-narrow">Path this node uses</th><th>Check</th></tr></thead>
            <tbody>
              {folders.map((f) => (
                <tr key={f.name}>
                  <td>{f.name}</td>
                  <td className="hide-narrow mono">{f.path}</td>
                  <td>{f.ok ? <span className="badge badge-success">usable</span> : <span className="badge badge-failed">{f.problem ?? 'failed'}</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {unseen.length ? (
        <ul className="problems">
          {unseen.map((u) => <li key={`${u.node}/${u.folder}`}>{u.folder}: cannot see what {u.node} wrote there — {u.problem}</li>)}
        </ul>
      ) : null}
    </section>
  );
}

function StorageView() {
  const config = useQuery({ queryKey: ['storage'], queryFn: () => api<StorageConfig>('/api/configuration/storage') });
  const nodes = useQuery({ queryKey: ['nodes-summary'], queryFn: () => api<{ Nodes: NodeSummary[] }>('/api/octopusservernodes/summary'), refetchInterval: 10_000 });
  const details = useQueries({
    queries: (nodes.data?.Nodes ?? []).map((n) => ({
      queryKey: ['node-details', n.Id],
      queryFn: () => api<NodeDetails>(`/api/octopusservernodes/${encodeURIComponent(n.Id)}/details`),
      refetchInterval: 10_000,
    })),
  });
  return (
    <Page title="Shared storage">
      <p className="muted">Every node reads and writes the same folders: task logs, artifacts and packages must be on storage that all nodes mount (NFS or SMB in production).</p>
      <ErrorBox error={config.error ?? nodes.error} />
      {config.isPending ? <Loading /> : null}
      {config.data ? (
        <section className="card">
          <h2>Folders</h2>
          {!config.data.IsConfigured ? <p className="error-box">Shared storage is not configured: tasks cannot keep logs, artifacts or packages until it is.</p> : null}
          <div className="table-wrap">
            <table className="storage-table">
              <thead><tr><th>Folder</th><th>Path</th><th className="hide-narrow">Set</th></tr></thead>
              <tbody>
                <tr><td>Cluster shared root</td><td className="mono">{config.data.ClusterShared ?? <span className="muted">not set</span>}</td><td className="hide-narrow muted">—</td></tr>
                {Object.entries(config.data.Folders).map(([name, f]) => (
                  <tr key={name}>
                    <td>{name}</td>
                    <td className="mono">{f.Path ?? <span className="muted">not set</span>}</td>
                    <td className="hide-narrow">{f.SetIndividually ? <span className="badge badge-info">individually</span> : <span className="muted">under the root</span>}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <p className="hint"><strong>To change it:</strong> {config.data.HowToChange}</p>
        </section>
      ) : null}
      <h2>What each node found</h2>
      {nodes.isPending ? <Loading what="Loading the nodes" /> : null}
      {(nodes.data?.Nodes ?? []).map((n, i) => <NodeCheck key={n.Id} node={n} details={details[i]?.data} error={details[i]?.error} />)}
    </Page>
  );
}

export default function Storage() {
  return <AdminOnly title="Shared storage"><StorageView /></AdminOnly>;
}
