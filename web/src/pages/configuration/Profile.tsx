// Your profile: display name, email, password, and your API keys (a new key is shown once).
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { Ago, ConfirmButton, ErrorBox, Field, Page } from '../../components/ui';
import { api, type Collection } from '../../lib/api';
import { useSession } from '../../lib/session';
import { CopyButton } from './CopyButton';

interface ApiKey { Id: string; Purpose: string; Created: string }

export default function Profile() {
  const { user } = useSession();
  const client = useQueryClient();
  const [name, setName] = useState(user.DisplayName);
  const [email, setEmail] = useState(user.EmailAddress ?? '');
  const [password, setPassword] = useState('');
  const [purpose, setPurpose] = useState('');
  const [newKey, setNewKey] = useState<string | undefined>();
  const [saved, setSaved] = useState(false);
  const keys = useQuery({ queryKey: ['apikeys', user.Id], queryFn: () => api<Collection<ApiKey>>(`/api/users/${user.Id}/apikeys?take=100`) });
  const save = useMutation({
    mutationFn: () => api(`/api/users/${user.Id}`, { method: 'PUT', body: { ...user, DisplayName: name, EmailAddress: email || null, Password: password || null } }),
    onSuccess: async () => { setSaved(true); setPassword(''); await client.invalidateQueries({ queryKey: ['session'] }); },
  });
  const addKey = useMutation({
    mutationFn: () => api<{ ApiKey: string }>(`/api/users/${user.Id}/apikeys`, { method: 'POST', body: { Purpose: purpose } }),
    onSuccess: async (r) => { setNewKey(r.ApiKey); setPurpose(''); await client.invalidateQueries({ queryKey: ['apikeys', user.Id] }); },
  });
  const revoke = useMutation({ mutationFn: (id: string) => api(`/api/users/${user.Id}/apikeys/${id}`, { method: 'DELETE' }), onSuccess: () => client.invalidateQueries({ queryKey: ['apikeys', user.Id] }) });
  const submit = (e: FormEvent) => { e.preventDefault(); setSaved(false); save.mutate(); };
  return (
    <Page title="My profile">
      <form className="card" onSubmit={submit}>
        <h2>{user.Username}</h2>
        <ErrorBox error={save.error} title="Not saved" />
        {saved ? <div className="success-box" role="status">Saved.</div> : null}
        <Field label="Display name">{(id) => <input id={id} value={name} onChange={(e) => setName(e.target.value)} />}</Field>
        <Field label="Email">{(id) => <input id={id} type="email" value={email} onChange={(e) => setEmail(e.target.value)} />}</Field>
        {!user.IsService ? <Field label="New password" hint="Leave empty to keep yours. Changing it signs out your other sessions.">{(id) => <input id={id} type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} />}</Field> : null}
        <button type="submit" className="btn btn-primary" disabled={save.isPending}>Save</button>
      </form>
      <section className="card">
        <h2>API keys</h2>
        <p className="muted">For scripts and the Octopus client: send it as the <code>X-Octopus-ApiKey</code> header. It acts as you.</p>
        <ErrorBox error={keys.error ?? addKey.error ?? revoke.error} />
        {newKey ? (
          <div className="success-box" role="status">
            <p><strong>Your new API key</strong></p>
            <p className="warn-line">Copy it now: it is shown only this once and cannot be read back (the server keeps only a hash). Anyone with it acts as you.</p>
            <pre className="secret-box" aria-label="New API key">{newKey}</pre>
            <CopyButton text={newKey} /> <button type="button" className="btn btn-small btn-quiet" onClick={() => setNewKey(undefined)}>I have copied it</button>
          </div>
        ) : null}
        <form className="form-row" onSubmit={(e) => { e.preventDefault(); addKey.mutate(); }}>
          <Field label="Purpose">{(id) => <input id={id} required value={purpose} placeholder="CI server" onChange={(e) => setPurpose(e.target.value)} />}</Field>
          <button type="submit" className="btn" disabled={addKey.isPending}>New API key</button>
        </form>
        <ul className="plain key-list">
          {(keys.data?.Items ?? []).map((k) => (
            <li key={k.Id}><strong>{k.Purpose}</strong> <span className="muted small">created <Ago at={k.Created} /></span> <ConfirmButton className="btn btn-small btn-danger" question={`Revoke the API key "${k.Purpose}"? Whatever uses it stops working at once.`} onConfirm={() => revoke.mutate(k.Id)}>Revoke</ConfirmButton></li>
          ))}
        </ul>
      </section>
    </Page>
  );
}
