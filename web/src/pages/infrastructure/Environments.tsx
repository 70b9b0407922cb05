// Environments, in their order (which the dashboard's columns follow): add, rename, reorder, delete.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { ConfirmButton, EmptyState, ErrorBox, Loading, Page } from '../../components/ui';
import { api } from '../../lib/api';
import { spacePath, useSpaceId } from '../../lib/space';
import type { Environment } from '../../lib/types';
import { NameDialog } from '../shared/NameDialog';

export default function Environments() {
  const spaceId = useSpaceId();
  const client = useQueryClient();
  const key = ['environments', spaceId];
  const [adding, setAdding] = useState(false);
  const [editing, setEditing] = useState<Environment | undefined>();
  const list = useQuery({ queryKey: key, queryFn: () => api<Environment[]>(spacePath(spaceId, 'environments/all')) });
  const done = async () => { setAdding(false); setEditing(undefined); await client.invalidateQueries({ queryKey: key }); };
  const create = useMutation({ mutationFn: (v: { Name: string; Description: string }) => api(spacePath(spaceId, 'environments'), { method: 'POST', body: v }), onSuccess: done });
  const modify = useMutation({ mutationFn: (v: Environment) => api(spacePath(spaceId, `environments/${v.Id}`), { method: 'PUT', body: v }), onSuccess: done });
  const remove = useMutation({ mutationFn: (id: string) => api(spacePath(spaceId, `environments/${id}`), { method: 'DELETE' }), onSuccess: done });
  const envs = [...(list.data ?? [])].sort((a, b) => (a.SortOrder ?? 0) - (b.SortOrder ?? 0));
  const swap = (i: number, j: number) => {
    const a = envs[i]!; const b = envs[j]!;
    modify.mutate({ ...a, SortOrder: b.SortOrder ?? j });
    modify.mutate({ ...b, SortOrder: a.SortOrder ?? i });
  };
  const add = <button type="button" className="btn btn-primary" onClick={() => setAdding(true)}>Add environment</button>;
  return (
    <Page title="Environments" actions={envs.length ? add : undefined}>
      <p className="muted">Where releases are deployed, in promotion order. Lifecycles decide which come first.</p>
      <ErrorBox error={list.error ?? modify.error ?? remove.error} />
      {list.isPending ? <Loading what="Loading environments" /> : null}
      {list.data && !envs.length ? <EmptyState title="No environments yet" action={add}>Add one for each stage you deploy to, such as Development, Test and Production.</EmptyState> : null}
      {envs.length ? (
        <div className="table-wrap">
          <table>
            <thead><tr><th>Name</th><th className="hide-narrow">Description</th><th>Actions</th></tr></thead>
            <tbody>
              {envs.map((e, i) => (
                <tr key={e.Id}>
                  <td><strong>{e.Name}</strong></td>
                  <td className="hide-narrow">{e.Description || <span className="muted">—</span>}</td>
                  <td className="row-actions">
                    <button type="button" className="btn btn-small" disabled={i === 0} onClick={() => swap(i, i - 1)} aria-label={`Move ${e.Name} up`}>↑</button>
                    <button type="button" className="btn btn-small" disabled={i === envs.length - 1} onClick={() => swap(i, i + 1)} aria-label={`Move ${e.Name} down`}>↓</button>
                    <button type="button" className="btn btn-small" onClick={() => setEditing(e)}>Edit</button>
                    <ConfirmButton className="btn btn-small btn-danger" question={`Delete the environment ${e.Name}?`} onConfirm={() => remove.mutate(e.Id)}>Delete</ConfirmButton>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {adding ? <NameDialog title="Add environment" open onClose={() => setAdding(false)} onSave={(v) => create.mutate(v)} error={create.error} busy={create.isPending} /> : null}
      {editing ? <NameDialog title={`Edit ${editing.Name}`} open initial={editing} onClose={() => setEditing(undefined)} onSave={(v) => modify.mutate({ ...editing, ...v })} error={modify.error} busy={modify.isPending} /> : null}
    </Page>
  );
}
