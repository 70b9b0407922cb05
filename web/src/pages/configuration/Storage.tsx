// Shared storage: where every shared folder is (cuttle path), and what each node found there.
import { useQuery } from '@tanstack/react-query';
import { Fragment } from 'react';
import { Ago, ErrorBox, Loading, Page } from '../../components/ui';
import { api } from '../../lib/api';
import { AdminOnly } from './AdminOnly';

interface StorageConfig { ClusterShared: string | null; Folders: Record<string, { Path: string | null; SetIndividually: boolean }>; IsConfigured: boolean; HowToChange: string }
interface NodeSummary { Id: string; Name: string; Status: string; SharedStorage?: { Status: string; CheckedAt: string | null; Problems: string[] } }

function StorageView() {
  const config = useQuery({ queryKey: ['storage'], queryFn: () => api<StorageConfig>('/api/configuration/storage') });
  const nodes = useQuery({ queryKey: ['nodes'], queryFn: () => api<{ Nodes: NodeSummary[] }>('/api/octopusservernodes/summary'), refetchInterval: 5000 });
  return (
    <Page title="Shared storage">
      <p className="muted">Every node reads and writes the same folders: task logs, artifacts and packages must be on storage all nodes mount (NFS or SMB in production).</p>
      <ErrorBox error={config.error ?? nodes.error} />
      {config.isPending ? <Loading /> : null}
      {config.data ? (
        <section className="card">
          <h2>Folders</h2>
          <dl className="facts">
            <dt>Cluster shared root</dt><dd className="mono">{config.data.ClusterShared ?? <span className="muted">not set</span>}</dd>
            {Object.entries(config.data.Folders).map(([name, f]) => (
              <Fragment key={name}><dt>{name}</dt><dd className="mono">{f.Path ?? <span className="muted">not set</span>}{f.SetIndividually ? <span className="badge">set individually</span> : null}</dd></Fragment>
            ))}
          </dl>
          <p className="hint">{config.data.HowToChange}</p>
        </section>
      ) : null}
      <section className="card">
        <h2>What each node found</h2>
        <ul className="plain">
          {(nodes.data?.Nodes ?? []).map((n) => (
            <li key={n.Id}>
              <strong>{n.Name}</strong>{' '}
              {n.SharedStorage ? <span className={`badge ${n.SharedStorage.Status === 'Ok' ? 'badge-success' : 'badge-failed'}`}>{n.SharedStorage.Status === 'Ok' ? 'ok' : n.SharedStorage.Status.toLowerCase()}</span> : <span className="muted">not checked</span>}
              {n.SharedStorage?.CheckedAt ? <span className="muted small"> checked <Ago at={n.SharedStorage.CheckedAt} /></span> : null}
              {n.Status === 'Offline' ? <span className="muted small"> (offline)</span> : null}
              {n.SharedStorage?.Problems.length ? <ul className="problems">{n.SharedStorage.Problems.map((p) => <li key={p}>{p}</li>)}</ul> : null}
            </li>
          ))}
        </ul>
      </section>
    </Page>
  );
}

export default function Storage() {
  return <AdminOnly title="Shared storage"><StorageView /></AdminOnly>;
}
