// Nodes: a live picture of the cluster (Cuttle's own touch; Octopus hides it in Configuration).
// Every node with its status, last seen (ticking), running tasks, task cap and drain (editable by
// administrators), version and the shared-storage check; refreshed every two seconds, so a node
// that dies shows as offline within the offline threshold.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { Ago, ConfirmButton, ErrorBox, Loading, Page, StateIcon, TaskLink } from '../../components/ui';
import { api, qs, type Collection } from '../../lib/api';
import { useSession } from '../../lib/session';
import type { Task } from '../../lib/types';

interface NodeSummary {
  Id: string;
  Name: string;
  MaxConcurrentTasks: number;
  IsInMaintenanceMode: boolean;
  LastSeen: string | null;
  IsOffline: boolean;
  RunningTaskCount: number;
  Version: string;
  Status: 'Running' | 'Draining' | 'Drained' | 'Offline';
  ListenUrl?: string;
  StartedAt?: string;
  SharedStorage?: { Status: string; CheckedAt: string | null; Problems: string[] };
}

const STATUS_BADGE: Record<string, string> = { Running: 'badge-success', Draining: 'badge-warn', Drained: 'badge-info', Offline: 'badge-failed' };

function NodeCard({ node, tasks, isAdmin }: { node: NodeSummary; tasks: Task[]; isAdmin: boolean }) {
  const client = useQueryClient();
  const [cap, setCap] = useState(String(node.MaxConcurrentTasks));
  const [drain, setDrain] = useState(node.IsInMaintenanceMode);
  const [dirty, setDirty] = useState(false);
  // Follow the server while the form is untouched (another administrator may change it).
  useEffect(() => {
    if (!dirty) { setCap(String(node.MaxConcurrentTasks)); setDrain(node.IsInMaintenanceMode); }
  }, [node.MaxConcurrentTasks, node.IsInMaintenanceMode, dirty]);
  const save = useMutation({
    mutationFn: async () => {
      const n = Number(cap);
      if (!Number.isInteger(n) || n < 0) throw new Error('The task cap must be a whole number, 0 or more (0: this node runs no tasks).');
      const current = await api<Record<string, unknown>>(`/api/octopusservernodes/${encodeURIComponent(node.Id)}`);
      return api(`/api/octopusservernodes/${encodeURIComponent(node.Id)}`, { method: 'PUT', body: { ...current, MaxConcurrentTasks: n, IsInMaintenanceMode: drain } });
    },
    onSuccess: async () => { setDirty(false); await client.invalidateQueries({ queryKey: ['nodes'] }); },
  });
  const remove = useMutation({
    mutationFn: () => api(`/api/octopusservernodes/${encodeURIComponent(node.Id)}`, { method: 'DELETE' }),
    onSuccess: () => client.invalidateQueries({ queryKey: ['nodes'] }),
  });
  const storage = node.SharedStorage;
  const offline = node.Status === 'Offline';
  return (
    <article className="card node-card" data-node={node.Name} aria-labelledby={`node-${node.Id}`}>
      <header className="node-head">
        <h2 id={`node-${node.Id}`}>{node.Name}</h2>
        <span className={`badge ${STATUS_BADGE[node.Status] ?? ''}`} data-status={node.Status.toLowerCase()}>{node.Status.toLowerCase()}</span>
      </header>
      <dl className="facts">
        <dt>Last seen</dt><dd><Ago at={node.LastSeen} /></dd>
        <dt>Version</dt><dd>{node.Version}</dd>
        {node.ListenUrl ? <><dt>Listens on</dt><dd className="mono">{node.ListenUrl}</dd></> : null}
        <dt>Shared storage</dt>
        <dd>
          {storage ? (
            <span className={`badge ${storage.Status === 'Ok' ? 'badge-success' : 'badge-failed'}`}>{storage.Status === 'Ok' ? 'ok' : storage.Status.toLowerCase()}</span>
          ) : <span className="muted">not checked yet</span>}
          {storage?.CheckedAt ? <span className="muted"> {offline ? 'last checked' : 'checked'} <Ago at={storage.CheckedAt} />{offline ? ', before it went offline' : ''}</span> : null}
          {storage?.Problems.length ? <ul className="problems">{storage.Problems.map((p) => <li key={p}>{p}</li>)}</ul> : null}
        </dd>
        <dt>Running tasks</dt>
        <dd>
          {node.RunningTaskCount === 0 ? <span className="muted">none</span> : (
            <ul className="plain">
              {tasks.map((t) => <li key={t.Id}><StateIcon state={t.State} /> <TaskLink id={t.Id}>{t.Description}</TaskLink></li>)}
              {tasks.length < node.RunningTaskCount ? <li className="muted">{node.RunningTaskCount - tasks.length} more</li> : null}
            </ul>
          )}
        </dd>
      </dl>
      {isAdmin && offline ? (
        <div className="node-settings">
          <p className="muted small">Its tasks were re-queued or failed on the other nodes. It reappears when it starts again.</p>
          <ErrorBox error={remove.error} />
          <ConfirmButton className="btn btn-danger" question={`Remove ${node.Name} from the list of nodes? Start it again to bring it back.`} onConfirm={() => remove.mutate()}>Remove from the list</ConfirmButton>
        </div>
      ) : null}
      {isAdmin && !offline ? (
        <form className="node-settings" onSubmit={(e) => { e.preventDefault(); save.mutate(); }}>
          <div className="form-row">
            <div className="field">
              <label htmlFor={`cap-${node.Id}`}>Task cap for {node.Name}</label>
              <input id={`cap-${node.Id}`} type="number" min={0} max={1000} value={cap} onChange={(e) => { setCap(e.target.value); setDirty(true); }} />
            </div>
            <label className="checkbox">
              <input type="checkbox" checked={drain} onChange={(e) => { setDrain(e.target.checked); setDirty(true); }} aria-label={`Drain ${node.Name}`} />
              Drain (finish running tasks, take no new ones)
            </label>
            <button type="submit" className="btn btn-primary" disabled={save.isPending}>Save</button>
          </div>
          <ErrorBox error={save.error} />
        </form>
      ) : null}
      {!isAdmin ? (
        <p className="muted">Task cap {node.MaxConcurrentTasks}; {node.IsInMaintenanceMode ? 'draining: takes no new tasks' : 'takes new tasks'}. Administrators can change these.</p>
      ) : null}
    </article>
  );
}

export default function Nodes() {
  const session = useSession();
  const nodes = useQuery({
    queryKey: ['nodes'],
    queryFn: () => api<{ Nodes: NodeSummary[] }>('/api/octopusservernodes/summary'),
    refetchInterval: 2000,
  });
  const running = useQuery({
    queryKey: ['nodes', 'running-tasks'],
    queryFn: () => api<Collection<Task>>(`/api/tasks${qs({ states: ['Executing', 'Cancelling'], take: 200 })}`),
    refetchInterval: 2000,
  });
  const list = nodes.data?.Nodes ?? [];
  const online = list.filter((n) => n.Status !== 'Offline').length;
  return (
    <Page title="Nodes">
      <p className="muted">
        {list.length ? `${list.length} node${list.length === 1 ? '' : 's'}, ${online} online. ` : ''}
        Every node serves the portal and the API and runs tasks; a node that stops answering is shown offline within seconds and its tasks go on elsewhere.
      </p>
      {nodes.isPending ? <Loading what="Loading the nodes" /> : null}
      <ErrorBox error={nodes.error} />
      <div className="grid nodes-grid">
        {list.map((n) => (
          <NodeCard key={n.Id} node={n} isAdmin={session.isAdmin} tasks={(running.data?.Items ?? []).filter((t) => t.ServerNode === n.Name || t.ServerNode === n.Id)} />
        ))}
      </div>
    </Page>
  );
}
