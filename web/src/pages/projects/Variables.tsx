// Project variables: name, value, environment scope. A sensitive value is entered here and never
// shown back (the API returns null for it): it shows as a masked box with "Change"; saving sends
// its Id with a null value, which keeps it. Save PUTs the whole set.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { useParams } from 'react-router';
import { EmptyState, ErrorBox, Loading, Page } from '../../components/ui';
import { api } from '../../lib/api';
import { spacePath } from '../../lib/space';
import { useProject } from './ProjectLayout';

interface Variable { Id: string; Name: string; Value: string | null; Description?: string | null; Type: string; IsSensitive: boolean; IsEditable?: boolean; Scope: Record<string, string[]>; Prompt?: unknown }
interface VariableSet { Id: string; Version: number; Variables: Variable[]; ScopeValues: { Environments: { Id: string; Name: string }[] }; [k: string]: unknown }

/** A row being edited: `changing` is true when a sensitive value is being replaced. */
interface Row { v: Variable; changing: boolean }

export default function Variables() {
  const { spaceId = 'Spaces-1' } = useParams();
  const project = useProject();
  const client = useQueryClient();
  const p = project.data!;
  const key = ['variables', spaceId, p.VariableSetId];
  const url = spacePath(spaceId, `variables/${encodeURIComponent(p.VariableSetId)}`);
  const set = useQuery({ queryKey: key, queryFn: () => api<VariableSet>(url) });
  const [rows, setRows] = useState<Row[] | undefined>();
  const [saved, setSaved] = useState(false);
  useEffect(() => { if (set.data && rows === undefined) setRows(set.data.Variables.map((v) => ({ v, changing: false }))); }, [set.data, rows]);
  const save = useMutation({
    mutationFn: () => api<VariableSet>(url, {
      method: 'PUT',
      body: { ...set.data!, Variables: rows!.map(({ v, changing }) => ({ ...v, Value: v.IsSensitive && !changing && v.Id ? null : v.Value ?? '', Type: v.IsSensitive ? 'Sensitive' : 'String' })) },
    }),
    onSuccess: (d) => { client.setQueryData(key, d); setRows(d.Variables.map((v) => ({ v, changing: false }))); setSaved(true); },
  });
  if (set.isPending || !rows) return set.error ? <ErrorBox error={set.error} /> : <Loading what="Loading variables" />;
  const envs = set.data?.ScopeValues.Environments ?? [];
  const edit = (i: number, r: { changing?: boolean; v?: Partial<Variable> }) => {
    setSaved(false);
    setRows(rows.map((x, j) => (j === i ? { changing: r.changing ?? x.changing, v: { ...x.v, ...r.v } } : x)));
  };
  const add = () => { setSaved(false); setRows([...rows, { v: { Id: '', Name: '', Value: '', Type: 'String', IsSensitive: false, Scope: {} }, changing: true }]); };
  const addButton = <button type="button" className="btn" onClick={add}>Add variable</button>;
  return (
    <Page title="Variables" actions={<>{rows.length ? addButton : null}<button type="button" className="btn btn-primary" disabled={save.isPending} onClick={() => save.mutate()}>Save</button></>}>
      <p className="muted">Used in scripts as <code>#{'{'}Name{'}'}</code> and in their environment. A value scoped to an environment wins there over an unscoped one. Sensitive values are stored encrypted, never shown again, and masked in task logs.</p>
      <ErrorBox error={save.error} title="The variables were not saved" />
      {saved ? <div className="success-box" role="status">Saved.</div> : null}
      {rows.length === 0 ? <EmptyState title="No variables yet" action={addButton}>Add values your steps need, such as a connection string (sensitive) or a setting per environment.</EmptyState> : (
        <div className="table-wrap">
          <table className="variables">
            <thead><tr><th>Name</th><th>Value</th><th>Environments</th><th><span className="visually-hidden">Actions</span></th></tr></thead>
            <tbody>
              {rows.map(({ v, changing }, i) => (
                <tr key={i}>
                  <td><label className="visually-hidden" htmlFor={`var-name-${i}`}>Name</label><input id={`var-name-${i}`} aria-label="Name" value={v.Name} onChange={(e) => edit(i, { v: { Name: e.target.value } })} /></td>
                  <td>
                    {v.IsSensitive && !changing && v.Id ? (
                      <span className="masked">
                        <span aria-label="A sensitive value, not shown">••••••••</span>
                        <button type="button" className="btn btn-small" onClick={() => edit(i, { changing: true, v: { Value: '' } })}>Change</button>
                      </span>
                    ) : (
                      <input aria-label="Value" type={v.IsSensitive ? 'password' : 'text'} autoComplete="off" value={v.Value ?? ''} onChange={(e) => edit(i, { v: { Value: e.target.value } })} />
                    )}
                    <label className="checkbox small"><input type="checkbox" checked={v.IsSensitive} aria-label="Sensitive" onChange={(e) => edit(i, { v: { IsSensitive: e.target.checked }, changing: e.target.checked ? true : changing })} /> Sensitive</label>
                  </td>
                  <td>
                    <div className="chips">
                      {envs.map((e) => {
                        const on = (v.Scope.Environment ?? []).includes(e.Id);
                        return (
                          <label key={e.Id} className={`chip${on ? ' on' : ''}`}>
                            <input type="checkbox" checked={on} onChange={(ev) => {
                              const cur = v.Scope.Environment ?? [];
                              const next = ev.target.checked ? [...cur, e.Id] : cur.filter((x) => x !== e.Id);
                              edit(i, { v: { Scope: { ...v.Scope, Environment: next } } });
                            }} />
                            {e.Name}
                          </label>
                        );
                      })}
                      {envs.length === 0 ? <span className="muted small">No environments: the value applies everywhere.</span> : null}
                    </div>
                  </td>
                  <td><button type="button" className="btn btn-small btn-danger" onClick={() => { setSaved(false); setRows(rows.filter((_, j) => j !== i)); }}>Remove</button></td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Page>
  );
}
