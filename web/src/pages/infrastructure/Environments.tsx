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
  const done = async () => { setAdding(false); setEditing(undefined); await client.invalidateQueries({ queryKey: key }); await client.invalidateQueries({ queryKey: ['dashboard', spaceId] }); };
  const create = useMutation({ mutationFn: (v: { Name: string; Description: string }) => api(spacePath(spaceId, 'environments'), { method: 'POST', body: v }), onSuccess: done });
  const modify = useMutation({ mutationFn: (v: Environment) => api(spacePath(spaceId, `environments/${v.Id}`), { method: 'PUT', body: v }), onSuccess: done });
  const remove = useMutation({ mutationFn: (id: string) => api(spacePath(spaceId, `environments/${id}`), { method: 'DELETE' }), onSuccess: done });
  const envs = [...(list.data ?? [])].sort((a, b) => (a.SortOrder ?? 0) - (b.SortOrder ?? 0));
  // Moving one renumbers the list 0, 1, 2… (PUT SortOrder on each that changes), so equal or
  // sparse sort orders still end in the order shown.
  const reorder = useMutation({
    mutationFn: async ({ from, to }: { from: number; to: number }) => {
      const next = [...envs];
      const [moved] = next.splice(from, 1);
      next.splice(to, 0, moved!);
      for (const [i, e] of next.entries()) {
        if (e.SortOrder !== i) await api(spacePath(spaceId, `environments/${e.Id}`), { method: 'PUT', body: { ...e, SortOrder: i } });
      }
    },
    onSettled: async () => { await client.invalidateQueries({ queryKey: key }); await client.invalidateQueries({ queryKey: ['dashboard', spaceId] }); },
  });
  const swap = (i: number, j: number) => reorder.mutate({ from: i, to: j });
  const add = <button type="button" className="btn btn-primary" onClick={() => setAdding(true)}>Add environment</button>;
  return (
    <Page title="Environments" actions={envs.length ? add : undefined}>
      <p className="muted">Where releases are deployed, in promotion order. Lifecycles decide which come first.</p>
      <ErrorBox error={list.error ?? reorder.error ?? remove.error} title={remove.error ? 'Not deleted' : reorder.error ? 'Not reordered' : undefined} />
      {list.isPending ? <Loading what="Loading environments" /> : null}
      {list.data && !envs.length ? <EmptyState title="No environments yet" action={add}>Add one for each stage you deploy to, such as Development, Test and Production.</EmptyState> : null}
      {envs.length ? (
        <div className="table-wrap">
          <table>
            <thead><tr><th className="num">#</th><th>Name</th><th className="hide-narrow">Description</th><th>Actions</th></tr></thead>
            <tbody>
              {envs.map((e, i) => (
                <tr key={e.Id}>
                  <td className="num muted">{i + 1}</td>
                  <td><strong>{e.Name}</strong></td>
                  <td className="hide-narrow">{e.Description || <span className="muted">—</span>}</td>
                  <td className="row-actions">
                    <button type="button" className="btn btn-small" disabled={i === 0 || reorder.isPending} onClick={() => swap(i, i - 1)} title={`Move ${e.Name} up`}>Move up</button>
                    <button type="button" className="btn btn-small" disabled={i === envs.length - 1 || reorder.isPending} onClick={() => swap(i, i + 1)} title={`Move ${e.Name} down`}>Move down</button>
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
