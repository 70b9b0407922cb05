// Lifecycles: the order in which releases are promoted through environments.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useNavigate } from 'react-router';
import { EmptyState, ErrorBox, Loading, Page } from '../../components/ui';
import { api } from '../../lib/api';
import { spacePath, useSpaceId } from '../../lib/space';
import type { Environment, Lifecycle } from '../../lib/types';
import { NameDialog } from '../shared/NameDialog';

export default function Lifecycles() {
  const spaceId = useSpaceId();
  const client = useQueryClient();
  const navigate = useNavigate();
  const [adding, setAdding] = useState(false);
  const list = useQuery({ queryKey: ['lifecycles', spaceId], queryFn: () => api<Lifecycle[]>(spacePath(spaceId, 'lifecycles/all')) });
  const envs = useQuery({ queryKey: ['environments', spaceId], queryFn: () => api<Environment[]>(spacePath(spaceId, 'environments/all')) });
  const create = useMutation({
    mutationFn: (v: { Name: string; Description: string }) => api<Lifecycle>(spacePath(spaceId, 'lifecycles'), { method: 'POST', body: { ...v, Phases: [] } }),
    onSuccess: async (l) => { await client.invalidateQueries({ queryKey: ['lifecycles', spaceId] }); void navigate(`/${encodeURIComponent(spaceId)}/library/lifecycles/${encodeURIComponent(l.Id)}`); },
  });
  const name = new Map((envs.data ?? []).map((e) => [e.Id, e.Name]));
  return (
    <Page title="Lifecycles" actions={<button type="button" className="btn btn-primary" onClick={() => setAdding(true)}>Add lifecycle</button>}>
      <p className="muted">A lifecycle's phases say where a release may go next. With no phases, every environment is allowed in any order.</p>
      <ErrorBox error={list.error} />
      {list.isPending ? <Loading /> : null}
      {list.data && list.data.length === 0 ? <EmptyState title="No lifecycles yet" action={<button type="button" className="btn btn-primary" onClick={() => setAdding(true)}>Add lifecycle</button>}>Every project needs one. Add a lifecycle, then give it phases such as Development, Test and Production.</EmptyState> : null}
      <div className="grid">
        {(list.data ?? []).map((l) => (
          <Link key={l.Id} to={`/${encodeURIComponent(spaceId)}/library/lifecycles/${encodeURIComponent(l.Id)}`} className="card project-tile">
            <strong>{l.Name}</strong>
            {l.Phases.length === 0 ? <span className="muted small">No phases: every environment</span> : (
              <ol className="phases-inline">
                {l.Phases.map((p, i) => <li key={p.Id ?? i}>{p.Name}: {[...p.AutomaticDeploymentTargets, ...p.OptionalDeploymentTargets].map((id) => name.get(id) ?? id).join(', ') || <span className="muted">no environments</span>}</li>)}
              </ol>
            )}
          </Link>
        ))}
      </div>
      {adding ? <NameDialog title="Add lifecycle" open onClose={() => setAdding(false)} onSave={(v) => create.mutate(v)} error={create.error} busy={create.isPending} /> : null}
    </Page>
  );
}
