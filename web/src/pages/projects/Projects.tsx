// Projects, grouped by project group as in Octopus, with a search box; add a project or a group.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { Link, useNavigate } from 'react-router';
import { ConfirmButton, Dialog, EmptyState, ErrorBox, Field, Loading, Page } from '../../components/ui';
import { api } from '../../lib/api';
import { spacePath, useSpaceId } from '../../lib/space';
import type { Lifecycle, Project, ProjectGroup } from '../../lib/types';
import { NameDialog } from '../shared/NameDialog';

function AddProject({ spaceId, groups, lifecycles, onClose }: { spaceId: string; groups: ProjectGroup[]; lifecycles: Lifecycle[]; onClose: () => void }) {
  const navigate = useNavigate();
  const client = useQueryClient();
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [group, setGroup] = useState(groups[0]?.Id ?? '');
  const [lifecycle, setLifecycle] = useState(lifecycles[0]?.Id ?? '');
  const create = useMutation({
    mutationFn: () => api<Project>(spacePath(spaceId, 'projects'), { method: 'POST', body: { Name: name.trim(), Description: description, ProjectGroupId: group, LifecycleId: lifecycle } }),
    onSuccess: async (p) => { await client.invalidateQueries({ queryKey: ['projects', spaceId] }); onClose(); void navigate(`/${encodeURIComponent(spaceId)}/projects/${encodeURIComponent(p.Id)}`); },
  });
  const submit = (e: FormEvent) => { e.preventDefault(); create.mutate(); };
  return (
    <Dialog title="Add project" open onClose={onClose}>
      <form onSubmit={submit}>
        <ErrorBox error={create.error} />
        <Field label="Name">{(id) => <input id={id} required autoFocus value={name} onChange={(e) => setName(e.target.value)} />}</Field>
        <Field label="Description">{(id) => <input id={id} value={description} onChange={(e) => setDescription(e.target.value)} />}</Field>
        <Field label="Project group">{(id) => <select id={id} value={group} onChange={(e) => setGroup(e.target.value)}>{groups.map((g) => <option key={g.Id} value={g.Id}>{g.Name}</option>)}</select>}</Field>
        <Field label="Lifecycle" hint="Which environments its releases go to, in which order.">{(id) => <select id={id} value={lifecycle} onChange={(e) => setLifecycle(e.target.value)}>{lifecycles.map((l) => <option key={l.Id} value={l.Id}>{l.Name}</option>)}</select>}</Field>
        <div className="page-actions">
          <button type="submit" className="btn btn-primary" disabled={create.isPending || !name.trim()}>Save</button>
          <button type="button" className="btn" onClick={onClose}>Close</button>
        </div>
      </form>
    </Dialog>
  );
}

export default function Projects() {
  const spaceId = useSpaceId();
  const client = useQueryClient();
  const [search, setSearch] = useState('');
  const [adding, setAdding] = useState<'project' | 'group' | undefined>();
  const projects = useQuery({ queryKey: ['projects', spaceId], queryFn: () => api<Project[]>(spacePath(spaceId, 'projects/all')) });
  const groups = useQuery({ queryKey: ['projectgroups', spaceId], queryFn: () => api<ProjectGroup[]>(spacePath(spaceId, 'projectgroups/all')) });
  const lifecycles = useQuery({ queryKey: ['lifecycles', spaceId], queryFn: () => api<Lifecycle[]>(spacePath(spaceId, 'lifecycles/all')) });
  const addGroup = useMutation({
    mutationFn: (v: { Name: string; Description: string }) => api(spacePath(spaceId, 'projectgroups'), { method: 'POST', body: v }),
    onSuccess: async () => { setAdding(undefined); await client.invalidateQueries({ queryKey: ['projectgroups', spaceId] }); },
  });
  const [editing, setEditing] = useState<ProjectGroup | undefined>();
  const groupsChanged = async () => { setEditing(undefined); await client.invalidateQueries({ queryKey: ['projectgroups', spaceId] }); };
  const modifyGroup = useMutation({ mutationFn: (g: ProjectGroup) => api(spacePath(spaceId, `projectgroups/${g.Id}`), { method: 'PUT', body: g }), onSuccess: groupsChanged });
  const removeGroup = useMutation({ mutationFn: (g: ProjectGroup) => api(spacePath(spaceId, `projectgroups/${g.Id}`), { method: 'DELETE' }), onSuccess: groupsChanged });
  const needle = search.trim().toLowerCase();
  const shown = (projects.data ?? []).filter((p) => !needle || p.Name.toLowerCase().includes(needle));
  const ready = groups.data && lifecycles.data;
  const actions = (
    <>
      <button type="button" className="btn" onClick={() => setAdding('group')}>Add project group</button>
      <button type="button" className="btn btn-primary" disabled={!ready} onClick={() => setAdding('project')}>Add project</button>
    </>
  );
  return (
    <Page title="Projects" actions={actions}>
      <ErrorBox error={projects.error ?? groups.error ?? lifecycles.error ?? removeGroup.error} />
      {projects.isPending ? <Loading what="Loading projects" /> : null}
      {projects.data && projects.data.length === 0 ? (
        <EmptyState title="Add your first project" action={<button type="button" className="btn btn-primary" disabled={!ready} onClick={() => setAdding('project')}>Add project</button>}>
          A project holds a deployment process (its steps), its variables and its releases.
        </EmptyState>
      ) : null}
      {projects.data && projects.data.length > 0 ? (
        <>
          <div className="toolbar">
            <Field label="Search">{(id) => <input id={id} type="search" value={search} placeholder="Filter by name" onChange={(e) => setSearch(e.target.value)} />}</Field>
          </div>
          {(groups.data ?? []).map((g) => {
            const inGroup = shown.filter((p) => p.ProjectGroupId === g.Id);
            if (!inGroup.length && needle) return null;
            return (
              <section key={g.Id} className="card">
                <header className="node-head">
                  <h2 className="group-title">{g.Name}</h2>
                  <span className="row-actions">
                    <button type="button" className="btn btn-small" onClick={() => setEditing(g)} aria-label={`Rename the group ${g.Name}`}>Rename</button>
                    {inGroup.length === 0 ? <ConfirmButton className="btn btn-small btn-danger" question={`Delete the project group ${g.Name}?`} onConfirm={() => removeGroup.mutate(g)}>Delete</ConfirmButton> : null}
                  </span>
                </header>
                {inGroup.length ? (
                  <ul className="project-tiles">
                    {inGroup.map((p) => (
                      <li key={p.Id}>
                        <Link to={`/${encodeURIComponent(spaceId)}/projects/${encodeURIComponent(p.Id)}`} className="project-tile">
                          <strong>{p.Name}</strong>
                          {p.Description ? <span className="muted small">{p.Description}</span> : null}
                        </Link>
                      </li>
                    ))}
                  </ul>
                ) : <p className="muted">No projects in this group.</p>}
              </section>
            );
          })}
          {needle && !shown.length ? <p className="muted">No project's name contains "{search}".</p> : null}
        </>
      ) : null}
      {adding === 'project' && groups.data && lifecycles.data ? <AddProject spaceId={spaceId} groups={groups.data} lifecycles={lifecycles.data} onClose={() => setAdding(undefined)} /> : null}
      {editing ? <NameDialog title={`Rename ${editing.Name}`} open initial={{ Name: editing.Name, Description: editing.Description ?? '' }} onClose={() => setEditing(undefined)} onSave={(v) => modifyGroup.mutate({ ...editing, ...v })} error={modifyGroup.error} busy={modifyGroup.isPending} /> : null}
      {adding === 'group' ? <NameDialog title="Add project group" open onClose={() => setAdding(undefined)} onSave={(v) => addGroup.mutate(v)} error={addGroup.error} busy={addGroup.isPending} /> : null}
    </Page>
  );
}
