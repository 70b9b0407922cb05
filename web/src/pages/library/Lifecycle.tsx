// One lifecycle: its phases in order, each with its environments and promotion rule; saved whole.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { ConfirmButton, ErrorBox, Field, Loading, Page } from '../../components/ui';
import { api } from '../../lib/api';
import { spacePath } from '../../lib/space';
import type { Environment, Lifecycle as LifecycleDoc, Phase } from '../../lib/types';

export default function Lifecycle() {
  const { spaceId = 'Spaces-1', lifecycleId = '' } = useParams();
  const client = useQueryClient();
  const navigate = useNavigate();
  const url = spacePath(spaceId, `lifecycles/${encodeURIComponent(lifecycleId)}`);
  const lc = useQuery({ queryKey: ['lifecycle', spaceId, lifecycleId], queryFn: () => api<LifecycleDoc>(url) });
  const envs = useQuery({ queryKey: ['environments', spaceId], queryFn: () => api<Environment[]>(spacePath(spaceId, 'environments/all')) });
  const [doc, setDoc] = useState<LifecycleDoc | undefined>();
  const [saved, setSaved] = useState(false);
  useEffect(() => { if (lc.data) setDoc(lc.data); }, [lc.data]);
  const save = useMutation({
    mutationFn: () => api<LifecycleDoc>(url, { method: 'PUT', body: doc }),
    onSuccess: async () => { setSaved(true); await client.invalidateQueries({ queryKey: ['lifecycle', spaceId, lifecycleId] }); await client.invalidateQueries({ queryKey: ['lifecycles', spaceId] }); },
  });
  const remove = useMutation({ mutationFn: () => api(url, { method: 'DELETE' }), onSuccess: async () => { await client.invalidateQueries({ queryKey: ['lifecycles', spaceId] }); void navigate(`/${encodeURIComponent(spaceId)}/library/lifecycles`); } });
  if (!doc) return lc.error ? <ErrorBox error={lc.error} /> : <Loading />;
  const setPhase = (i: number, p: Partial<Phase>) => { setSaved(false); setDoc({ ...doc, Phases: doc.Phases.map((x, j) => (j === i ? { ...x, ...p } : x)) }); };
  const move = (i: number, by: number) => {
    const j = i + by; if (j < 0 || j >= doc.Phases.length) return;
    const next = [...doc.Phases]; [next[i], next[j]] = [next[j]!, next[i]!]; setSaved(false); setDoc({ ...doc, Phases: next });
  };
  const addPhase = () => { setSaved(false); setDoc({ ...doc, Phases: [...doc.Phases, { Id: '', Name: `Phase ${doc.Phases.length + 1}`, AutomaticDeploymentTargets: [], OptionalDeploymentTargets: [], MinimumEnvironmentsBeforePromotion: 0, IsOptionalPhase: false }] }); };
  return (
    <Page title={doc.Name} breadcrumb={<Link to={`/${encodeURIComponent(spaceId)}/library/lifecycles`}>Lifecycles</Link>}
      actions={<><button type="button" className="btn" onClick={addPhase}>Add phase</button><button type="button" className="btn btn-primary" disabled={save.isPending} onClick={() => save.mutate()}>Save</button></>}>
      <ErrorBox error={save.error} title="Not saved" />
      {saved ? <div className="success-box" role="status">Saved.</div> : null}
      <div className="card">
        <Field label="Name">{(id) => <input id={id} value={doc.Name} onChange={(e) => { setSaved(false); setDoc({ ...doc, Name: e.target.value }); }} />}</Field>
        <Field label="Description">{(id) => <input id={id} value={doc.Description ?? ''} onChange={(e) => { setSaved(false); setDoc({ ...doc, Description: e.target.value }); }} />}</Field>
      </div>
      {doc.Phases.length === 0 ? <p className="muted">No phases: releases may go to any environment in any order. Add a phase to require an order.</p> : null}
      {doc.Phases.map((p, i) => (
        <section key={i} className="card">
          <div className="form-row">
            <Field label={`Phase ${i + 1} name`}>{(id) => <input id={id} value={p.Name} onChange={(e) => setPhase(i, { Name: e.target.value })} />}</Field>
            <Field label="Minimum environments before promotion" hint="How many of this phase's environments a release must reach before the next phase; 0 means all of them.">{(id) => <input id={id} type="number" min={0} value={p.MinimumEnvironmentsBeforePromotion ?? 0} onChange={(e) => setPhase(i, { MinimumEnvironmentsBeforePromotion: Number(e.target.value) })} />}</Field>
          </div>
          <div className="form-row phase-envs">
          {(['AutomaticDeploymentTargets', 'OptionalDeploymentTargets'] as const).map((kind) => {
            const otherKind = kind === 'AutomaticDeploymentTargets' ? 'OptionalDeploymentTargets' : 'AutomaticDeploymentTargets';
            return (
              <fieldset key={kind} className="multi">
                <legend>{kind === 'AutomaticDeploymentTargets' ? 'Deployed automatically to' : 'Deployed manually to (optional environments)'}</legend>
                {(envs.data ?? []).length === 0 ? <span className="muted small">No environments yet: add them under Infrastructure.</span> : null}
                {(envs.data ?? []).map((e) => (
                  <label key={e.Id} className="checkbox">
                    <input type="checkbox" checked={p[kind].includes(e.Id)}
                      onChange={(ev) => setPhase(i, {
                        [kind]: ev.target.checked ? [...p[kind], e.Id] : p[kind].filter((x) => x !== e.Id),
                        [otherKind]: p[otherKind].filter((x) => x !== e.Id),
                      })} />
                    {e.Name}
                  </label>
                ))}
              </fieldset>
            );
          })}
          </div>
          {envs.error ? <ErrorBox error={envs.error} /> : null}
          <label className="checkbox"><input type="checkbox" checked={p.IsOptionalPhase === true} onChange={(e) => setPhase(i, { IsOptionalPhase: e.target.checked })} /> Optional phase (may be skipped)</label>
          <div className="row-actions">
            <button type="button" className="btn btn-small" disabled={i === 0} onClick={() => move(i, -1)}>Move up</button>
            <button type="button" className="btn btn-small" disabled={i === doc.Phases.length - 1} onClick={() => move(i, 1)}>Move down</button>
            <button type="button" className="btn btn-small btn-danger" onClick={() => { setSaved(false); setDoc({ ...doc, Phases: doc.Phases.filter((_, j) => j !== i) }); }}>Remove phase</button>
          </div>
        </section>
      ))}
      <section className="card">
        <h2>Delete this lifecycle</h2>
        <p className="muted">Refused while a project or channel uses it.</p>
        <ErrorBox error={remove.error} title="Not deleted" />
        <ConfirmButton question={`Delete the lifecycle ${doc.Name}?`} onConfirm={() => remove.mutate()}>Delete lifecycle</ConfirmButton>
      </section>
    </Page>
  );
}
