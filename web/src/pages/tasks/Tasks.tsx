// Tasks: every task of the cluster, newest first, with filters kept in the address (so a filtered
// list survives a reload and can be shared), refreshed every three seconds; "Run a script" queues
// an ad-hoc Bash script on the built-in worker and opens its live task page.
import { useMutation, useQuery } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useNavigate, useSearchParams } from 'react-router';
import { Dialog, EmptyState, ErrorBox, Field, Loading, Page, Paging, StateIcon, TaskLink, duration, Ago } from '../../components/ui';
import { api, qs, type Collection } from '../../lib/api';
import { spacePath, useSpaceId } from '../../lib/space';
import type { Environment, Project, Task } from '../../lib/types';

const TAKE = 30;
const STATES = ['Queued', 'Executing', 'Cancelling', 'Success', 'Failed', 'Canceled', 'TimedOut'];

function RunScript({ open, onClose }: { open: boolean; onClose: () => void }) {
  const navigate = useNavigate();
  const [description, setDescription] = useState('');
  const [script, setScript] = useState('');
  const run = useMutation({
    mutationFn: () => api<Task>('/api/tasks', {
      method: 'POST',
      body: { Name: 'AdHocScript', Description: description.trim() || 'Script run from the portal', Arguments: { ScriptBody: script, Syntax: 'Bash' } },
    }),
    onSuccess: (t) => { onClose(); void navigate(`/tasks/${encodeURIComponent(t.Id)}`); },
  });
  const submit = (e: FormEvent) => { e.preventDefault(); run.mutate(); };
  return (
    <Dialog title="Run a script" open={open} onClose={onClose}>
      <form onSubmit={submit}>
        <p className="hint">A Bash script, run on the server's built-in worker by whichever node claims it. Its output streams to the task page.</p>
        <ErrorBox error={run.error} />
        <Field label="Description">{(id) => <input id={id} value={description} onChange={(e) => setDescription(e.target.value)} placeholder="Script run from the portal" />}</Field>
        <Field label="Script">{(id) => <textarea id={id} required value={script} onChange={(e) => setScript(e.target.value)} spellCheck={false} placeholder={'echo "Hello from $(hostname)"'} />}</Field>
        <div className="page-actions">
          <button type="submit" className="btn btn-primary" disabled={run.isPending || !script.trim()}>Run</button>
          <button type="button" className="btn" onClick={onClose}>Close</button>
        </div>
      </form>
    </Dialog>
  );
}

export default function Tasks() {
  const [params, setParams] = useSearchParams();
  const spaceId = useSpaceId();
  const [running, setRunning] = useState(false);
  const filter = (k: string) => params.get(k) ?? '';
  const skip = Number(params.get('skip') ?? 0) || 0;
  const set = (k: string, v: string) => {
    const next = new URLSearchParams(params);
    if (v) next.set(k, v); else next.delete(k);
    next.delete('skip');
    setParams(next, { replace: true });
  };

  const types = useQuery({ queryKey: ['tasktypes'], queryFn: () => api<{ Id: string; Name: string; Description: string }[]>('/api/tasks/tasktypes'), staleTime: 300_000 });
  const nodes = useQuery({ queryKey: ['nodes'], queryFn: () => api<{ Nodes: { Id: string; Name: string }[] }>('/api/octopusservernodes/summary'), staleTime: 10_000 });
  const projects = useQuery({ queryKey: ['projects', spaceId], queryFn: () => api<Project[]>(spacePath(spaceId, 'projects/all')), staleTime: 30_000 });
  const environments = useQuery({ queryKey: ['environments', spaceId], queryFn: () => api<Environment[]>(spacePath(spaceId, 'environments/all')), staleTime: 30_000 });

  const query = {
    states: filter('state') || undefined, node: filter('node') || undefined, name: filter('type') || undefined,
    project: filter('project') || undefined, environment: filter('environment') || undefined, skip, take: TAKE,
  };
  const tasks = useQuery({
    queryKey: ['tasks', query],
    queryFn: () => api<Collection<Task>>(`/api/tasks${qs(query)}`),
    refetchInterval: 3000,
    placeholderData: (prev) => prev,
  });
  const filtered = ['state', 'node', 'type', 'project', 'environment'].some((k) => filter(k));

  return (
    <Page title="Tasks" actions={<button type="button" className="btn btn-primary" onClick={() => setRunning(true)}>Run a script</button>}>
      <RunScript open={running} onClose={() => setRunning(false)} />
      <form className="toolbar" aria-label="Filters" onSubmit={(e) => e.preventDefault()}>
        <Field label="State">{(id) => (
          <select id={id} value={filter('state')} onChange={(e) => set('state', e.target.value)}>
            <option value="">Any state</option>
            {STATES.map((s) => <option key={s} value={s}>{s === 'Executing' ? 'Running' : s === 'TimedOut' ? 'Timed out' : s}</option>)}
          </select>
        )}</Field>
        <Field label="Node">{(id) => (
          <select id={id} value={filter('node')} onChange={(e) => set('node', e.target.value)}>
            <option value="">Any node</option>
            {(nodes.data?.Nodes ?? []).map((n) => <option key={n.Id} value={n.Name}>{n.Name}</option>)}
          </select>
        )}</Field>
        <Field label="Type">{(id) => (
          <select id={id} value={filter('type')} onChange={(e) => set('type', e.target.value)}>
            <option value="">Any type</option>
            {(types.data ?? []).map((t) => <option key={t.Id} value={t.Name}>{t.Description}</option>)}
          </select>
        )}</Field>
        <Field label="Project">{(id) => (
          <select id={id} value={filter('project')} onChange={(e) => set('project', e.target.value)}>
            <option value="">Any project</option>
            {(projects.data ?? []).map((p) => <option key={p.Id} value={p.Id}>{p.Name}</option>)}
          </select>
        )}</Field>
        <Field label="Environment">{(id) => (
          <select id={id} value={filter('environment')} onChange={(e) => set('environment', e.target.value)}>
            <option value="">Any environment</option>
            {(environments.data ?? []).map((p) => <option key={p.Id} value={p.Id}>{p.Name}</option>)}
          </select>
        )}</Field>
        {filtered ? <button type="button" className="btn btn-quiet" onClick={() => setParams(new URLSearchParams(), { replace: true })}>Clear filters</button> : null}
      </form>
      <ErrorBox error={tasks.error} />
      {tasks.isPending ? <Loading what="Loading tasks" /> : null}
      {tasks.data && tasks.data.Items.length === 0 ? (
        filtered
          ? <EmptyState title="No task matches these filters">Clear a filter to see more.</EmptyState>
          : <EmptyState title="No tasks yet" action={<button type="button" className="btn btn-primary" onClick={() => setRunning(true)}>Run a script</button>}>Deployments and scripts appear here as they are queued. Run a script to see one.</EmptyState>
      ) : null}
      {tasks.data && tasks.data.Items.length > 0 ? (
        <>
          <div className="table-wrap">
            <table>
              <thead>
                <tr><th>State</th><th>Task</th><th className="hide-narrow">Node</th><th className="hide-narrow">Queued</th><th className="hide-narrow">Duration</th></tr>
              </thead>
              <tbody>
                {tasks.data.Items.map((t) => (
                  <tr key={t.Id}>
                    <td><StateIcon state={t.State} label /></td>
                    <td><TaskLink id={t.Id}>{t.Description || t.Name}</TaskLink><div className="muted small">{t.Name} · {t.Id}</div>{t.ErrorMessage ? <div className="small error-text">{t.ErrorMessage}</div> : null}</td>
                    <td className="hide-narrow">{t.ServerNode ?? <span className="muted">—</span>}</td>
                    <td className="hide-narrow"><Ago at={t.QueueTime} /></td>
                    <td className="hide-narrow">{t.StartTime ? duration(t.StartTime, t.CompletedTime) : ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Paging skip={skip} take={TAKE} total={tasks.data.TotalResults} onChange={(s) => { const n = new URLSearchParams(params); n.set('skip', String(s)); setParams(n); }} />
        </>
      ) : null}
    </Page>
  );
}
