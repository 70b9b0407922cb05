// Spaces: add, rename, stop or start a space's task queue, delete (only once its queue is stopped).
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { ConfirmButton, ErrorBox, Loading, Page } from '../../components/ui';
import { api } from '../../lib/api';
import { useSpaces } from '../../lib/space';
import type { Space } from '../../lib/types';
import { NameDialog } from '../shared/NameDialog';
import { AdminOnly } from './AdminOnly';

function SpacesList() {
  const client = useQueryClient();
  const spaces = useSpaces();
  const [adding, setAdding] = useState(false);
  const [editing, setEditing] = useState<Space | undefined>();
  const refresh = async () => { setAdding(false); setEditing(undefined); await client.invalidateQueries({ queryKey: ['spaces'] }); };
  const me = useMutation({ mutationFn: () => api<{ Id: string }>('/api/users/me') });
  const create = useMutation({
    mutationFn: async (v: { Name: string; Description: string }) => {
      const user = me.data ?? await me.mutateAsync();
      return api('/api/spaces', { method: 'POST', body: { ...v, SpaceManagersTeams: [], SpaceManagersTeamMembers: [user.Id], IsDefault: false } });
    },
    onSuccess: refresh,
  });
  const modify = useMutation({ mutationFn: (s: Space) => api(`/api/spaces/${s.Id}`, { method: 'PUT', body: s }), onSuccess: refresh });
  const remove = useMutation({ mutationFn: (s: Space) => api(`/api/spaces/${s.Id}`, { method: 'DELETE' }), onSuccess: refresh });
  return (
    <Page title="Spaces" actions={<button type="button" className="btn btn-primary" onClick={() => setAdding(true)}>Add space</button>}>
      <p className="muted">Each space has its own environments, lifecycles, projects and feed. Stopping a space's task queue stops its tasks being started; a space is deleted only once its queue is stopped.</p>
      <ErrorBox error={spaces.error ?? modify.error ?? remove.error} />
      {spaces.isPending ? <Loading /> : null}
      <div className="table-wrap">
        <table>
          <thead><tr><th>Space</th><th>Task queue</th><th><span className="visually-hidden">Actions</span></th></tr></thead>
          <tbody>
            {(spaces.data?.Items ?? []).map((s) => (
              <tr key={s.Id}>
                <td><strong>{s.Name}</strong> <span className="muted small">{s.Id}{s.IsDefault ? ' · default' : ''}</span>{s.Description ? <div className="muted small">{s.Description}</div> : null}</td>
                <td>{s.TaskQueueStopped ? <span className="badge badge-warn">stopped</span> : <span className="badge badge-success">running</span>}</td>
                <td className="row-actions">
                  <button type="button" className="btn btn-small" onClick={() => setEditing(s)}>Rename</button>
                  <button type="button" className="btn btn-small" onClick={() => modify.mutate({ ...s, TaskQueueStopped: !s.TaskQueueStopped })}>{s.TaskQueueStopped ? 'Start queue' : 'Stop queue'}</button>
                  {s.IsDefault ? <span className="muted small">The default space cannot be deleted.</span> : (
                    <>
                      <ConfirmButton className="btn btn-small btn-danger" disabled={!s.TaskQueueStopped} question={`Delete the space ${s.Name} and everything in it (projects, releases, deployments, packages)? This cannot be undone.`} onConfirm={() => remove.mutate(s)}>Delete</ConfirmButton>
                      {!s.TaskQueueStopped ? <span className="muted small">To delete it, stop its task queue first: a space is deleted only when none of its tasks can start.</span> : null}
                    </>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {adding ? <NameDialog title="Add space" open onClose={() => setAdding(false)} onSave={(v) => create.mutate(v)} error={create.error} busy={create.isPending} /> : null}
      {editing ? <NameDialog title={`Rename ${editing.Name}`} open initial={{ Name: editing.Name, Description: editing.Description ?? '' }} onClose={() => setEditing(undefined)} onSave={(v) => modify.mutate({ ...editing, ...v })} error={modify.error} busy={modify.isPending} /> : null}
    </Page>
  );
}

export default function Spaces() {
  return <AdminOnly title="Spaces"><SpacesList /></AdminOnly>;
}
