// Sign in with a user name and password: POST /api/users/login sets the session cookie (and the
// anti-forgery cookie), which every node accepts.
import { useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useNavigate, useSearchParams } from 'react-router';
import { api } from '../lib/api';
import { ErrorBox, Field } from '../components/ui';

export default function SignIn() {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const client = useQueryClient();

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await api('/api/users/login', { method: 'POST', body: { Username: username, Password: password } });
      client.clear();
      const next = params.get('next');
      // Only a path of this site: never an address elsewhere.
      void navigate(next && next.startsWith('/') && !next.startsWith('//') ? next : '/', { replace: true });
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="sign-in" id="main">
      <form className="card sign-in-card" onSubmit={(e) => void submit(e)} aria-labelledby="sign-in-title">
        <div className="brand"><img src="/favicon.svg" alt="" width="32" height="32" /> <span>Cuttle</span></div>
        <h1 id="sign-in-title">Sign in</h1>
        <ErrorBox error={error} />
        <Field label="Username">{(id) => <input id={id} name="username" autoComplete="username" required autoFocus value={username} onChange={(e) => setUsername(e.target.value)} />}</Field>
        <Field label="Password">{(id) => <input id={id} name="password" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />}</Field>
        <button type="submit" className="btn btn-primary" disabled={busy}>{busy ? 'Signing in…' : 'Sign in'}</button>
        <p className="hint">The first administrator is the one <code>cuttle setup</code> or <code>cuttle admin</code> created.</p>
      </form>
    </main>
  );
}
