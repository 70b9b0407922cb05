// The master key, as Octopus's Server Manager shows it: every node of the cluster needs it. Shown
// to an administrator who enters the password again; the server records that it was shown.
import { useMutation } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { ErrorBox, Field, Page } from '../../components/ui';
import { api } from '../../lib/api';
import { AdminOnly } from './AdminOnly';
import { CopyButton } from './CopyButton';

function Reveal() {
  const [password, setPassword] = useState('');
  const show = useMutation({ mutationFn: () => api<{ MasterKey: string }>('/api/configuration/masterkey', { method: 'POST', body: { Password: password } }), onSettled: () => setPassword('') });
  const submit = (e: FormEvent) => { e.preventDefault(); show.mutate(); };
  return (
    <Page title="Master key">
      <div className="card">
        <p>The master key encrypts the sensitive values kept in the database and signs sessions.</p>
        <p className="warn-line"><strong>Every node of the cluster needs this key; keep it safe, out of the database backup.</strong> A new node joins with it (<code>cuttle join --master-key …</code>); a database restored without it cannot decrypt its sensitive values, and anyone holding both can.</p>
        {show.data ? (
          <div className="success-box" role="status">
            <p><strong>The master key</strong></p>
            <pre className="secret-box" aria-label="Master key">{show.data.MasterKey}</pre>
            <CopyButton text={show.data.MasterKey} />
            <p className="small">Shown to you now; the audit log records that it was (event “MasterKeyViewed”).</p>
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
  return <AdminOnly title="Master key" why="The master key decrypts every sensitive value in the database. An administrator can show it here after entering their password, or run `cuttle show-master-key` on a node."><Reveal /></AdminOnly>;
}
