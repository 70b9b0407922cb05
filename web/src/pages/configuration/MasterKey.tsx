// The master key, as Octopus's Server Manager shows it: every node of the cluster needs it. Shown
// to an administrator who enters the password again; the server records that it was shown.
import { useMutation } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { ErrorBox, Field, Page } from '../../components/ui';
import { api } from '../../lib/api';
import { AdminOnly } from './AdminOnly';

function Reveal() {
  const [password, setPassword] = useState('');
  const show = useMutation({ mutationFn: () => api<{ MasterKey: string }>('/api/configuration/masterkey', { method: 'POST', body: { Password: password } }), onSettled: () => setPassword('') });
  const submit = (e: FormEvent) => { e.preventDefault(); show.mutate(); };
  return (
    <Page title="Master key">
      <div className="card">
        <p>The master key encrypts sensitive values and signs sessions. <strong>Every node of the cluster needs this key</strong> (<code>cuttle join --master-key …</code>); keep it safe and apart from the database backups, which are useless without it.</p>
        {show.data ? (
          <div className="success-box" role="status">
            <p className="secret-line"><code>{show.data.MasterKey}</code> <button type="button" className="btn btn-small" onClick={() => void navigator.clipboard?.writeText(show.data.MasterKey)}>Copy</button></p>
            <p className="small">Shown to you now; the audit log records that it was.</p>
          </div>
        ) : (
          <form onSubmit={submit}>
            <ErrorBox error={show.error} />
            <Field label="Password" hint="Enter your password again to see the key.">{(id) => <input id={id} type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />}</Field>
            <button type="submit" className="btn btn-primary" disabled={show.isPending}>Show master key</button>
          </form>
        )}
      </div>
    </Page>
  );
}

export default function MasterKey() {
  return <AdminOnly title="Master key"><Reveal /></AdminOnly>;
}
