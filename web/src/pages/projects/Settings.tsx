// A project's settings: name, description, group, lifecycle, Cuttle's resume-on-node-failure, disabled; delete.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState, type FormEvent } from 'react';
import { useNavigate, useParams } from 'react-router';
import { ConfirmButton, ErrorBox, Field, Page } from '../../components/ui';
import { api } from '../../lib/api';
import { spacePath } from '../../lib/space';
import type { Lifecycle, Project, ProjectGroup } from '../../lib/types';
import { useProject } from './ProjectLayout';

export default function Settings() {
  const { spaceId = 'Spaces-1' } = useParams();
  const project = useProject();
  const p = project.data!;
  const client = useQueryClient();
  const navigate = useNavigate();
  const groups = useQuery({ queryKey: ['projectgroups', spaceId], queryFn: () => api<ProjectGroup[]>(spacePath(spaceId, 'projectgroups/all')) });
  const lifecycles = useQuery({ queryKey: ['lifecycles', spaceId], queryFn: () => api<Lifecycle[]>(spacePath(spaceId, 'lifecycles/all')) });
  const [doc, setDoc] = useState<Project>(p);
  const [saved, setSaved] = useState(false);
  useEffect(() => { setDoc(p); }, [p]);
  const save = useMutation({
    mutationFn: () => api<Project>(spacePath(spaceId, `projects/${encodeURIComponent(p.Id)}`), { method: 'PUT', body: doc }),
    onSuccess: async () => { setSaved(true); await client.invalidateQueries({ queryKey: ['project', spaceId, p.Id] }); await client.invalidateQueries({ queryKey: ['projects', spaceId] }); },
  });
  const remove = useMutation({
    mutationFn: () => api(spacePath(spaceId, `projects/${encodeURIComponent(p.Id)}`), { method: 'DELETE' }),
    onSuccess: async () => { await client.invalidateQueries({ queryKey: ['projects', spaceId] }); void navigate(`/${encodeURIComponent(spaceId)}/projects`); },
  });
  const set = (v: Partial<Project>) => { setSaved(false); setDoc({ ...doc, ...v }); };
  const submit = (e: FormEvent) => { e.preventDefault(); save.mutate(); };
  return (
    <Page title="Settings">
      <form className="card" onSubmit={submit}>
        <ErrorBox error={save.error} title="Not saved" />
        {saved ? <div className="success-box" role="status">Saved.</div> : null}
        <Field label="Name">{(id) => <input id={id} required value={doc.Name} onChange={(e) => set({ Name: e.target.value })} />}</Field>
        <Field label="Description">{(id) => <input id={id} value={doc.Description ?? ''} onChange={(e) => set({ Description: e.target.value })} />}</Field>
        <Field label="Project group">{(id) => <select id={id} value={doc.ProjectGroupId} onChange={(e) => set({ ProjectGroupId: e.target.value })}>{(groups.data ?? []).map((g) => <option key={g.Id} value={g.Id}>{g.Name}</option>)}</select>}</Field>
        <Field label="Lifecycle">{(id) => <select id={id} value={doc.LifecycleId} onChange={(e) => set({ LifecycleId: e.target.value })}>{(lifecycles.data ?? []).map((l) => <option key={l.Id} value={l.Id}>{l.Name}</option>)}</select>}</Field>
        <label className="checkbox"><input type="checkbox" checked={doc.ResumeDeploymentsOnNodeFailure === true} onChange={(e) => set({ ResumeDeploymentsOnNodeFailure: e.target.checked })} /> Resume deployments on another node when theirs dies</label>
        <p className="hint">Finished steps are skipped with their output variables restored; the interrupted step runs again. Only for steps that are safe to run twice. Off: such a deployment fails, naming the node.</p>
        <label className="checkbox"><input type="checkbox" checked={doc.IsDisabled === true} onChange={(e) => set({ IsDisabled: e.target.checked })} /> Disabled (no releases or deployments)</label>
        <div className="page-actions"><button type="submit" className="btn btn-primary" disabled={save.isPending}>Save</button></div>
      </form>
      <section className="card">
        <h2>Delete this project</h2>
        <ErrorBox error={remove.error} />
        <p>Its process, variables, releases and deployment history go with it.</p>
        <ConfirmButton question={`Delete the project ${p.Name} and all its releases?`} onConfirm={() => remove.mutate()}>Delete project</ConfirmButton>
      </section>
    </Page>
  );
}
