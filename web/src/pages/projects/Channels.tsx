// A project's channels: release streams, each with an optional lifecycle of its own.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useParams } from 'react-router';
import { ConfirmButton, ErrorBox, Field, Loading, Page } from '../../components/ui';
import { api, type Collection } from '../../lib/api';
import { spacePath } from '../../lib/space';
import type { Lifecycle } from '../../lib/types';
import { NameDialog } from '../shared/NameDialog';
import { useProject } from './ProjectLayout';

interface Channel { Id: string; Name: string; Description: string; LifecycleId: string | null; IsDefault: boolean; ProjectId: string }

export default function Channels() {
  const { spaceId = 'Spaces-1' } = useParams();
  const p = useProject().data!;
  const client = useQueryClient();
  const key = ['channels', spaceId, p.Id];
  const channels = useQuery({ queryKey: key, queryFn: () => api<Collection<Channel>>(spacePath(spaceId, `projects/${encodeURIComponent(p.Id)}/channels`)) });
  const lifecycles = useQuery({ queryKey: ['lifecycles', spaceId], queryFn: () => api<Lifecycle[]>(spacePath(spaceId, 'lifecycles/all')) });
  const [adding, setAdding] = useState(false);
  const [lifecycle, setLifecycle] = useState('');
  const done = async () => { setAdding(false); await client.invalidateQueries({ queryKey: key }); };
  const create = useMutation({ mutationFn: (v: { Name: string; Description: string }) => api(spacePath(spaceId, 'channels'), { method: 'POST', body: { ...v, ProjectId: p.Id, LifecycleId: lifecycle || null } }), onSuccess: done });
  const remove = useMutation({ mutationFn: (id: string) => api(spacePath(spaceId, `channels/${id}`), { method: 'DELETE' }), onSuccess: done });
  const lcName = new Map((lifecycles.data ?? []).map((l) => [l.Id, l.Name]));
  return (
    <Page title="Channels" actions={<button type="button" className="btn btn-primary" onClick={() => setAdding(true)}>Add channel</button>}>
      <ErrorBox error={channels.error ?? remove.error} />
      {channels.isPending ? <Loading /> : null}
      <div className="table-wrap">
        <table>
          <thead><tr><th>Name</th><th>Lifecycle</th><th><span className="visually-hidden">Actions</span></th></tr></thead>
          <tbody>
            {(channels.data?.Items ?? []).map((c) => (
              <tr key={c.Id}>
                <td><strong>{c.Name}</strong>{c.IsDefault ? <span className="badge">default</span> : null}</td>
                <td>{c.LifecycleId ? lcName.get(c.LifecycleId) ?? c.LifecycleId : <span className="muted">the project's</span>}</td>
                <td>{c.IsDefault ? null : <ConfirmButton className="btn btn-small btn-danger" question={`Delete the channel ${c.Name}?`} onConfirm={() => remove.mutate(c.Id)}>Delete</ConfirmButton>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {adding ? (
        <NameDialog title="Add channel" open onClose={() => setAdding(false)} onSave={(v) => create.mutate(v)} error={create.error} busy={create.isPending}
          extra={<Field label="Lifecycle">{(id) => <select id={id} value={lifecycle} onChange={(e) => setLifecycle(e.target.value)}><option value="">The project's lifecycle</option>{(lifecycles.data ?? []).map((l) => <option key={l.Id} value={l.Id}>{l.Name}</option>)}</select>}</Field>} />
      ) : null}
    </Page>
  );
}
