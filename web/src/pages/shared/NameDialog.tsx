// A small form for what is created by name (and an optional description): environments, project
// groups, lifecycles, spaces, channels. The caller posts it; errors are shown in words.
import { useState, type FormEvent, type ReactNode } from 'react';
import { Dialog, ErrorBox, Field } from '../../components/ui';

export function NameDialog({ title, open, onClose, onSave, error, busy, initial, extra }: {
  title: string;
  open: boolean;
  onClose: () => void;
  onSave: (v: { Name: string; Description: string }) => void;
  error: unknown;
  busy: boolean;
  initial?: { Name: string; Description?: string };
  extra?: ReactNode;
}) {
  const [name, setName] = useState(initial?.Name ?? '');
  const [description, setDescription] = useState(initial?.Description ?? '');
  const submit = (e: FormEvent) => { e.preventDefault(); onSave({ Name: name.trim(), Description: description }); };
  return (
    <Dialog title={title} open={open} onClose={onClose}>
      <form onSubmit={submit}>
        <ErrorBox error={error} />
        <Field label="Name">{(id) => <input id={id} required autoFocus value={name} onChange={(e) => setName(e.target.value)} />}</Field>
        <Field label="Description">{(id) => <input id={id} value={description} onChange={(e) => setDescription(e.target.value)} />}</Field>
        {extra}
        <div className="page-actions">
          <button type="submit" className="btn btn-primary" disabled={busy || !name.trim()}>Save</button>
          <button type="button" className="btn" onClick={onClose}>Close</button>
        </div>
      </form>
    </Dialog>
  );
}
