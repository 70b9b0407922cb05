// Audit: who did what, when, through which node; filters by category, user, project and time.
import { useQuery } from '@tanstack/react-query';
import { useSearchParams } from 'react-router';
import { Ago, EmptyState, ErrorBox, Field, Loading, Page, Paging } from '../../components/ui';
import { api, qs, type Collection } from '../../lib/api';
import { spacePath, useSpaceId, useSpaces } from '../../lib/space';
import type { Project, User } from '../../lib/types';
import { AdminOnly } from './AdminOnly';

interface Event { Id: string; Category: string; Username: string; Message: string; Details?: string | null; Occurred: string; Node?: string | null; SpaceId: string | null }

function AuditList() {
  const [params, setParams] = useSearchParams();
  const get = (k: string) => params.get(k) ?? '';
  const set = (k: string, v: string) => { const n = new URLSearchParams(params); if (v) n.set(k, v); else n.delete(k); n.delete('skip'); setParams(n, { replace: true }); };
  const skip = Number(get('skip')) || 0;
  const categories = useQuery({ queryKey: ['event-categories'], queryFn: () => api<{ Id: string; Name: string }[]>('/api/events/categories'), staleTime: 600_000 });
  const users = useQuery({ queryKey: ['users'], queryFn: () => api<Collection<User>>('/api/users?take=1000') });
  const spaceId = useSpaceId();
  const spaces = useSpaces();
  const spaceName = spaces.data?.Items.find((x) => x.Id === spaceId)?.Name ?? spaceId;
  const projects = useQuery({ queryKey: ['projects', spaceId, 'all'], queryFn: () => api<Project[]>(spacePath(spaceId, 'projects/all')) });
  // The end date is inclusive: "to 3 Dec" means up to the end of that day (local time).
  const to = get('to') ? new Date(`${get('to')}T23:59:59.999`).toISOString() : undefined;
  const from = get('from') ? new Date(`${get('from')}T00:00:00`).toISOString() : undefined;
  const query = { eventCategories: get('category') || undefined, users: get('user') || undefined, projects: get('project') || undefined, from, to, skip, take: 30 };
  const events = useQuery({ queryKey: ['events', query], queryFn: () => api<Collection<Event>>(`/api/events${qs(query)}`), refetchInterval: 10_000, placeholderData: (p) => p });
  return (
    <Page title="Audit">
      <form className="toolbar" aria-label="Filters" onSubmit={(e) => e.preventDefault()}>
        <Field label="Category">{(id) => <select id={id} value={get('category')} onChange={(e) => set('category', e.target.value)}><option value="">Any</option>{(categories.data ?? []).map((c) => <option key={c.Id} value={c.Id}>{c.Name}</option>)}</select>}</Field>
        <Field label="User">{(id) => <select id={id} value={get('user')} onChange={(e) => set('user', e.target.value)}><option value="">Anyone</option>{(users.data?.Items ?? []).map((u) => <option key={u.Id} value={u.Id}>{u.Username}</option>)}</select>}</Field>
        <Field label="Project">{(id) => <select id={id} value={get('project')} onChange={(e) => set('project', e.target.value)}><option value="">Any (of {spaceName})</option>{(projects.data ?? []).map((p) => <option key={p.Id} value={p.Id}>{p.Name}</option>)}</select>}</Field>
        <Field label="From">{(id) => <input id={id} type="date" value={get('from')} onChange={(e) => set('from', e.target.value)} />}</Field>
        <Field label="To">{(id) => <input id={id} type="date" value={get('to')} onChange={(e) => set('to', e.target.value)} />}</Field>
      </form>
      {get('from') && get('to') && get('from') > get('to') ? <p className="error-box" role="alert">The From date is after the To date: no event can match.</p> : <ErrorBox error={events.error} />}
      {events.isPending ? <Loading /> : null}
      {events.data && events.data.Items.length === 0 ? <EmptyState title="No events match">Every change made through the API or the portal is recorded here.</EmptyState> : null}
      {events.data && events.data.Items.length ? (
        <>
          <div className="table-wrap">
            <table>
              <thead><tr><th>When</th><th>What</th><th>Who</th><th className="hide-narrow">Node</th></tr></thead>
              <tbody>
                {events.data.Items.map((e) => (
                  <tr key={e.Id}>
                    <td><Ago at={e.Occurred} /></td>
                    <td>{e.Message}{e.Details ? <div className="muted small">{e.Details}</div> : null}<div className="small"><span className="badge">{e.Category}</span></div></td>
                    <td>{e.Username}</td>
                    <td className="hide-narrow">{e.Node ?? ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Paging skip={skip} take={30} total={events.data.TotalResults} onChange={(s) => { const n = new URLSearchParams(params); n.set('skip', String(s)); setParams(n); }} />
        </>
      ) : null}
    </Page>
  );
}

export default function Audit() {
  return <AdminOnly title="Audit"><AuditList /></AdminOnly>;
}
