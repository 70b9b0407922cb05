// Users (administrators): add, deactivate or reactivate, delete.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { ConfirmButton, Dialog, ErrorBox, Field, Loading, Page } from '../../components/ui';
import { api, type Collection } from '../../lib/api';
import { useSession } from '../../lib/session';
import type { User } from '../../lib/types';
import { AdminOnly } from './AdminOnly';

function AddUser({ onClose }: { onClose: () => void }) {
  const client = useQueryClient();
  const [v, setV] = useState({ Username: '', DisplayName: '', EmailAddress: '', Password: '' });
  const create = useMutation({
    mutationFn: () => api('/api/users', { method: 'POST', body: { ...v, EmailAddress: v.EmailAddress || null } }),
    onSuccess: async () => { await client.invalidateQueries({ queryKey: ['users'] }); onClose(); },
  });
  const submit = (e: FormEvent) => { e.preventDefault(); create.mutate(); };
  return (
    <Dialog title="Add user" open onClose={onClose}>
      <form onSubmit={submit}>
        <ErrorBox error={create.error} />
        <Field label="Username">{(id) => <input id={id} required autoFocus value={v.Username} onChange={(e) => setV({ ...v, Username: e.target.value })} />}</Field>
        <Field label="Display name">{(id) => <input id={id} value={v.DisplayName} onChange={(e) => setV({ ...v, DisplayName: e.target.value })} />}</Field>
        <Field label="Email">{(id) => <input id={id} type="email" value={v.EmailAddress} onChange={(e) => setV({ ...v, EmailAddress: e.target.value })} />}</Field>
        <Field label="Password" hint="8 characters or more.">{(id) => <input id={id} type="password" autoComplete="new-password" required value={v.Password} onChange={(e) => setV({ ...v, Password: e.target.value })} />}</Field>
        <div className="page-actions"><button type="submit" className="btn btn-primary" disabled={create.isPending}>Save</button><button type="button" className="btn" onClick={onClose}>Close</button></div>
      </form>
    </Dialog>
  );
}

function UsersList() {
  const me = useSession().user;
  const client = useQueryClient();
  const [adding, setAdding] = useState(false);
  const users = useQuery({ queryKey: ['users'], queryFn: () => api<Collection<User>>('/api/users?take=1000') });
  const refresh = () => client.invalidateQueries({ queryKey: ['users'] });
  const toggle = useMutation({ mutationFn: (u: User) => api(`/api/users/${u.Id}`, { method: 'PUT', body: { ...u, IsActive: !u.IsActive, Password: null } }), onSuccess: refresh });
  const remove = useMutation({ mutationFn: (u: User) => api(`/api/users/${u.Id}`, { method: 'DELETE' }), onSuccess: refresh });
  return (
    <Page title="Users" actions={<button type="button" className="btn btn-primary" onClick={() => setAdding(true)}>Add user</button>}>
      <ErrorBox error={users.error ?? toggle.error ?? remove.error} />
      {users.isPending ? <Loading /> : null}
      <div className="table-wrap">
        <table>
          <thead><tr><th>User</th><th className="hide-narrow">Email</th><th>State</th><th><span className="visually-hidden">Actions</span></th></tr></thead>
          <tbody>
            {(users.data?.Items ?? []).map((u) => (
              <tr key={u.Id}>
                <td><strong>{u.DisplayName || u.Username}</strong> <span className="muted small">{u.Username}{u.IsService ? ' · service' : ''}</span></td>
                <td className="hide-narrow">{u.EmailAddress ?? <span className="muted">—</span>}</td>
                <td>{u.IsActive ? <span className="badge badge-success">active</span> : <span className="badge">inactive</span>}</td>
                <td className="row-actions">
                  {u.Id === me.Id ? <span className="muted small">you (change yourself under My profile)</span> : (
                    <>
                      <button type="button" className="btn btn-small" onClick={() => toggle.mutate(u)}>{u.IsActive ? 'Deactivate' : 'Activate'}</button>
                      <ConfirmButton className="btn btn-small btn-danger" question={`Delete the user ${u.Username}? Their sessions and API keys stop working at once.`} onConfirm={() => remove.mutate(u)}>Delete</ConfirmButton>
                    </>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {adding ? <AddUser onClose={() => setAdding(false)} /> : null}
    </Page>
  );
}

export default function Users() {
  return <AdminOnly title="Users" why="Your own display name, email, password and API keys are under My profile."><UsersList /></AdminOnly>;
}
