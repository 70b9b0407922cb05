// The portal's building blocks: one look for every page. Headless React with our own styles
// (styles.css): states, pages, tables, forms, empty and error states.
import { useEffect, useId, useState, type ReactNode } from 'react';
import { Link } from 'react-router';
import { ApiError } from '../lib/api';

const STATE_LABEL: Record<string, string> = {
  Queued: 'Queued', Executing: 'Running', Cancelling: 'Cancelling', Success: 'Success', Failed: 'Failed',
  Canceled: 'Canceled', TimedOut: 'Timed out', Running: 'Running', Skipped: 'Skipped', SuccessWithWarning: 'Success with warnings', Pending: 'Pending',
};

/** Octopus's colours and icons: success green, failed red, canceled grey, running blue (animated), queued light. */
export function StateIcon({ state, label = false }: { state: string; label?: boolean }) {
  const s = state === 'Executing' ? 'Running' : state;
  const glyph: Record<string, string> = {
    Success: '✓', Failed: '✕', TimedOut: '⏱', Canceled: '⊘', Cancelling: '⊘', Running: '', Queued: '◷', Skipped: '↷', Pending: '·', SuccessWithWarning: '!',
  };
  return (
    <span className={`state state-${s}`} title={STATE_LABEL[s] ?? s}>
      <span className="state-icon" aria-hidden="true">{glyph[s] ?? '•'}</span>
      {label ? <span className="state-label">{STATE_LABEL[s] ?? s}</span> : <span className="visually-hidden">{STATE_LABEL[s] ?? s}</span>}
    </span>
  );
}

export function Page({ title, actions, children, breadcrumb }: { title: ReactNode; actions?: ReactNode; children: ReactNode; breadcrumb?: ReactNode }) {
  useEffect(() => {
    if (typeof title === 'string') document.title = `${title} · Cuttle`;
  }, [title]);
  return (
    <section className="page">
      {breadcrumb ? <div className="breadcrumb">{breadcrumb}</div> : null}
      <header className="page-header">
        <h1>{title}</h1>
        {actions ? <div className="page-actions">{actions}</div> : null}
      </header>
      {children}
    </section>
  );
}

export function Loading({ what = 'Loading' }: { what?: string }) {
  return <p className="loading" role="status"><span className="spinner" aria-hidden="true" /> {what}…</p>;
}

/** An error in words (Octopus's ErrorMessage and Errors), never a stack trace. */
export function ErrorBox({ error, title }: { error: unknown; title?: string }) {
  if (!error) return null;
  const e = error instanceof ApiError ? error : undefined;
  const message = e?.message ?? (error instanceof Error ? error.message : typeof error === 'string' ? error : 'Something went wrong; reload the page.');
  return (
    <div className="error-box" role="alert">
      {title ? <strong>{title}</strong> : null}
      <p>{message}</p>
      {e?.details.length ? <ul>{e.details.map((d) => <li key={d}>{d}</li>)}</ul> : null}
    </div>
  );
}

export function EmptyState({ title, children, action }: { title: string; children?: ReactNode; action?: ReactNode }) {
  return (
    <div className="empty">
      <h2>{title}</h2>
      {children ? <p>{children}</p> : null}
      {action}
    </div>
  );
}

/** Previous / next over an Octopus collection. */
export function Paging({ skip, take, total, onChange }: { skip: number; take: number; total: number; onChange: (skip: number) => void }) {
  if (total <= take) return null;
  const page = Math.floor(skip / take) + 1;
  const pages = Math.ceil(total / take);
  return (
    <nav className="paging" aria-label="Pages">
      <button type="button" className="btn" disabled={skip === 0} onClick={() => onChange(Math.max(0, skip - take))}>Previous</button>
      <span>Page {page} of {pages} ({total})</span>
      <button type="button" className="btn" disabled={skip + take >= total} onClick={() => onChange(skip + take)}>Next</button>
    </nav>
  );
}

/** A labelled form field; the label is tied to its control for screen readers and clicks. */
export function Field({ label, hint, error, children }: { label: string; hint?: ReactNode; error?: string; children: (id: string) => ReactNode }) {
  const id = useId();
  return (
    <div className={`field${error ? ' field-error' : ''}`}>
      <label htmlFor={id}>{label}</label>
      {children(id)}
      {hint ? <p className="hint">{hint}</p> : null}
      {error ? <p className="field-message" role="alert">{error}</p> : null}
    </div>
  );
}

/** A time as "12 s ago" that keeps ticking, with the exact time on hover. */
export function Ago({ at }: { at: string | null | undefined }) {
  const [, tick] = useState(0);
  useEffect(() => {
    const t = setInterval(() => tick((n) => n + 1), 1000);
    return () => clearInterval(t);
  }, []);
  if (!at) return <span className="muted">never</span>;
  const d = new Date(at);
  return <time dateTime={d.toISOString()} title={d.toLocaleString()}>{ago(d)}</time>;
}

export function ago(d: Date, now = Date.now()): string {
  const s = Math.round((now - d.getTime()) / 1000);
  if (s < 5) return 'just now';
  if (s < 90) return `${s} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 129600) return `${Math.round(s / 3600)} h ago`;
  return d.toLocaleDateString();
}

/** A duration between two times (or until now while running), as 1m 05s. */
export function duration(from: string | null | undefined, to: string | null | undefined): string {
  if (!from) return '';
  const ms = (to ? new Date(to).getTime() : Date.now()) - new Date(from).getTime();
  if (ms < 1000) return `${Math.max(0, ms)} ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

export function TaskLink({ id, children }: { id: string; children?: ReactNode }) {
  return <Link to={`/tasks/${encodeURIComponent(id)}`}>{children ?? id}</Link>;
}

/** A button that asks once more before doing something that cannot be undone. */
export function ConfirmButton({ onConfirm, children, question, className = 'btn btn-danger', disabled }: { onConfirm: () => void; children: ReactNode; question: string; className?: string; disabled?: boolean }) {
  return (
    <button type="button" className={className} disabled={disabled} onClick={() => { if (window.confirm(question)) onConfirm(); }}>
      {children}
    </button>
  );
}

export function Dialog({ title, open, onClose, children }: { title: string; open: boolean; onClose: () => void; children: ReactNode }) {
  const id = useId();
  useEffect(() => {
    if (!open) return;
    const onKey = (e: KeyboardEvent) => { if (e.key === 'Escape') onClose(); };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [open, onClose]);
  if (!open) return null;
  return (
    <div className="dialog-backdrop" onClick={onClose}>
      <div className="dialog" role="dialog" aria-modal="true" aria-labelledby={id} onClick={(e) => e.stopPropagation()}>
        <header><h2 id={id}>{title}</h2><button type="button" className="btn btn-quiet" aria-label="Close" onClick={onClose}>✕</button></header>
        {children}
      </div>
    </div>
  );
}
