// The deployment process editor: steps as a numbered list (reorder by buttons, so by keyboard too),
// an editor for the chosen step — a Bash/PowerShell script or a package deployed from the built-in
// feed, run on the server's built-in worker — with its condition, environments and channels. Save
// PUTs the whole process with the Version it read: someone else's save in between is a 409, said in words.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { useParams } from 'react-router';
import { ConfirmButton, EmptyState, ErrorBox, Field, Loading, Page } from '../../components/ui';
import { ApiError, api, qs, type Collection } from '../../lib/api';
import { spacePath } from '../../lib/space';
import type { Environment } from '../../lib/types';
import { useProject } from './ProjectLayout';

interface Action {
  Id: string; Name: string; ActionType: string; IsDisabled: boolean; Environments: string[]; ExcludedEnvironments: string[]; Channels: string[];
  TenantTags: string[]; Packages: Record<string, unknown>[]; Properties: Record<string, string>; [k: string]: unknown;
}
interface Step { Id: string; Name: string; Properties: Record<string, string>; Condition: string; StartTrigger: string; PackageRequirement: string; Actions: Action[] }
interface DeploymentProcess { Id: string; Version: number; Steps: Step[]; [k: string]: unknown }

const SCRIPT = 'Octopus.Script';
const PACKAGE = 'Octopus.TentaclePackage';

function newStep(kind: 'script' | 'package', n: number): Step {
  const name = kind === 'script' ? `Run a script ${n}` : `Deploy a package ${n}`;
  const Properties: Record<string, string> = kind === 'script'
    ? { 'Octopus.Action.RunOnServer': 'true', 'Octopus.Action.Script.ScriptSource': 'Inline', 'Octopus.Action.Script.Syntax': 'Bash', 'Octopus.Action.Script.ScriptBody': '' }
    : { 'Octopus.Action.RunOnServer': 'true', 'Octopus.Action.Package.FeedId': 'feeds-builtin', 'Octopus.Action.Package.PackageId': '' };
  return {
    Id: '', Name: name, Properties: {}, Condition: 'Success', StartTrigger: 'StartAfterPrevious', PackageRequirement: 'LetOctopusDecide',
    Actions: [{ Id: '', Name: name, ActionType: kind === 'script' ? SCRIPT : PACKAGE, IsDisabled: false, Environments: [], ExcludedEnvironments: [], Channels: [], TenantTags: [], Packages: [], Properties }],
  };
}

function MultiSelect({ label, options, value, onChange, hint }: { label: string; options: { Id: string; Name: string }[]; value: string[]; onChange: (v: string[]) => void; hint?: string }) {
  return (
    <fieldset className="multi">
      <legend>{label}</legend>
      {options.length === 0 ? <p className="muted small">None defined.</p> : null}
      {options.map((o) => (
        <label key={o.Id} className="checkbox">
          <input type="checkbox" checked={value.includes(o.Id)} onChange={(e) => onChange(e.target.checked ? [...value, o.Id] : value.filter((x) => x !== o.Id))} />
          {o.Name}
        </label>
      ))}
      {hint ? <p className="hint">{hint}</p> : null}
    </fieldset>
  );
}

function StepEditor({ step, onChange, environments, channels, packages }: {
  step: Step; onChange: (s: Step) => void; environments: Environment[]; channels: { Id: string; Name: string }[]; packages: string[];
}) {
  const action = step.Actions[0]!;
  const props = action.Properties;
  const setAction = (a: Partial<Action>) => onChange({ ...step, Actions: [{ ...action, ...a }, ...step.Actions.slice(1)] });
  const setProp = (k: string, v: string) => setAction({ Properties: { ...props, [k]: v } });
  const isScript = action.ActionType === SCRIPT;
  const pkgId = (action.Packages[0]?.PackageId as string | undefined) ?? props['Octopus.Action.Package.PackageId'] ?? '';
  return (
    <div className="card step-editor">
      <Field label="Step name">{(id) => <input id={id} value={step.Name} onChange={(e) => onChange({ ...step, Name: e.target.value, Actions: [{ ...action, Name: e.target.value }, ...step.Actions.slice(1)] })} />}</Field>
      <p className="hint">Runs on the server's built-in worker, on whichever node runs the deployment.</p>
      {isScript ? (
        <>
          <Field label="Syntax">{(id) => (
            <select id={id} value={props['Octopus.Action.Script.Syntax'] ?? 'Bash'} onChange={(e) => setProp('Octopus.Action.Script.Syntax', e.target.value)}>
              <option value="Bash">Bash</option><option value="PowerShell">PowerShell (needs pwsh on the nodes)</option>
            </select>
          )}</Field>
          <Field label="Script" hint={<>Use variables as <code>#{'{'}Name{'}'}</code>; set an output variable with <code>set_octopusvariable Name value</code>.</>}>
            {(id) => <textarea id={id} className="code" rows={10} spellCheck={false} value={props['Octopus.Action.Script.ScriptBody'] ?? ''} onChange={(e) => setProp('Octopus.Action.Script.ScriptBody', e.target.value)} />}
          </Field>
        </>
      ) : (
        <>
          <Field label="Package ID" hint="From the built-in feed (Library → Packages). The release picks its version.">{(id) => (
            <>
              <input id={id} list={`${id}-list`} value={pkgId} onChange={(e) => setAction({ Packages: [{ Id: typeof action.Packages[0]?.Id === 'string' ? action.Packages[0].Id : '', Name: '', PackageId: e.target.value, FeedId: 'feeds-builtin', AcquisitionLocation: 'Server', Properties: {} }], Properties: { ...props, 'Octopus.Action.Package.PackageId': e.target.value, 'Octopus.Action.Package.FeedId': 'feeds-builtin' } })} />
              <datalist id={`${id}-list`}>{packages.map((p) => <option key={p} value={p} />)}</datalist>
            </>
          )}</Field>
          <Field label="Files to substitute" hint="Globs, one per line, relative to the package root: #{Name} in these files is replaced before PreDeploy.sh, Deploy.sh and PostDeploy.sh run.">
            {(id) => <textarea id={id} rows={3} value={props['Octopus.Action.SubstituteInFiles.TargetFiles'] ?? ''} onChange={(e) => setAction({ Properties: { ...props, 'Octopus.Action.SubstituteInFiles.TargetFiles': e.target.value, 'Octopus.Action.SubstituteInFiles.Enabled': e.target.value.trim() ? 'True' : 'False' } })} />}
          </Field>
        </>
      )}
      <div className="form-row">
        <Field label="Run condition">{(id) => (
          <select id={id} value={step.Condition} onChange={(e) => onChange({ ...step, Condition: e.target.value })}>
            <option value="Success">Only when every previous step succeeded</option>
            <option value="Failure">Only when a previous step failed</option>
            <option value="Always">Always</option>
            <option value="Variable">When a variable expression is true</option>
          </select>
        )}</Field>
        {step.Condition === 'Variable' ? (
          <Field label="Variable expression">{(id) => <input id={id} value={step.Properties['Octopus.Step.ConditionVariableExpression'] ?? ''} placeholder="#{RunThisStep}" onChange={(e) => onChange({ ...step, Properties: { ...step.Properties, 'Octopus.Step.ConditionVariableExpression': e.target.value } })} />}</Field>
        ) : null}
      </div>
      <div className="form-row">
        <MultiSelect label="Only in these environments" options={environments} value={action.Environments} onChange={(v) => setAction({ Environments: v })} hint="None ticked: every environment." />
        <MultiSelect label="Skip in these environments" options={environments} value={action.ExcludedEnvironments} onChange={(v) => setAction({ ExcludedEnvironments: v })} />
        {channels.length > 1 ? <MultiSelect label="Only in these channels" options={channels} value={action.Channels} onChange={(v) => setAction({ Channels: v })} /> : null}
      </div>
      <label className="checkbox"><input type="checkbox" checked={action.IsDisabled} onChange={(e) => setAction({ IsDisabled: e.target.checked })} /> Disable this step</label>
    </div>
  );
}

export default function Process() {
  const { spaceId = 'Spaces-1' } = useParams();
  const project = useProject();
  const client = useQueryClient();
  const p = project.data!;
  const key = ['process', spaceId, p.Id];
  const url = spacePath(spaceId, `projects/${encodeURIComponent(p.Id)}/deploymentprocesses`);
  const process = useQuery({ queryKey: key, queryFn: () => api<DeploymentProcess>(url) });
  const environments = useQuery({ queryKey: ['environments', spaceId], queryFn: () => api<Environment[]>(spacePath(spaceId, 'environments/all')) });
  const channels = useQuery({ queryKey: ['channels', spaceId, p.Id], queryFn: () => api<Collection<{ Id: string; Name: string }>>(spacePath(spaceId, `projects/${encodeURIComponent(p.Id)}/channels`)) });
  const packages = useQuery({ queryKey: ['packages', spaceId, 'ids'], queryFn: () => api<Collection<{ PackageId: string }>>(spacePath(spaceId, `packages${qs({ latest: true, take: 200 })}`)) });
  const [steps, setSteps] = useState<Step[] | undefined>();
  const [selected, setSelected] = useState(0);
  const [saved, setSaved] = useState(false);
  const [choosing, setChoosing] = useState(false);
  useEffect(() => { if (process.data && steps === undefined) setSteps(process.data.Steps); }, [process.data, steps]);
  const save = useMutation({
    mutationFn: () => api<DeploymentProcess>(url, { method: 'PUT', body: { ...process.data!, Steps: steps } }),
    onSuccess: (d) => { client.setQueryData(key, d); setSteps(d.Steps); setSaved(true); },
  });
  if (process.isPending || !steps) return process.error ? <ErrorBox error={process.error} /> : <Loading what="Loading the process" />;
  const dirty = JSON.stringify(steps) !== JSON.stringify(process.data?.Steps);
  const update = (i: number, s: Step) => { setSaved(false); setSteps(steps.map((x, j) => (j === i ? s : x))); };
  const move = (i: number, by: number) => {
    const j = i + by;
    if (j < 0 || j >= steps.length) return;
    const next = [...steps];
    [next[i], next[j]] = [next[j]!, next[i]!];
    setSaved(false); setSteps(next); setSelected(j);
  };
  const add = (kind: 'script' | 'package') => { setSaved(false); setChoosing(false); setSteps([...steps, newStep(kind, steps.length + 1)]); setSelected(steps.length); };
  const stale = save.error instanceof ApiError && save.error.status === 409;
  const current = steps[selected];
  return (
    <Page title="Process" actions={(
      <>
        <button type="button" className="btn" onClick={() => setChoosing((c) => !c)} aria-expanded={choosing}>Add step</button>
        <button type="button" className="btn btn-primary" disabled={!dirty || save.isPending} onClick={() => save.mutate()}>Save</button>
      </>
    )}>
      {choosing ? (
        <div className="card choose-step" role="group" aria-label="Step templates">
          <button type="button" className="btn" onClick={() => add('script')}>Run a script <span className="muted small">Bash or PowerShell on the built-in worker</span></button>
          <button type="button" className="btn" onClick={() => add('package')}>Deploy a package <span className="muted small">extract, substitute, run its Deploy.sh</span></button>
        </div>
      ) : null}
      {stale ? (
        <div className="error-box" role="alert"><p>Someone else saved this process after you opened it. Reload it to see their changes (yours here will be lost), then make yours again.</p>
          <button type="button" className="btn" onClick={() => { setSteps(undefined); save.reset(); void process.refetch(); }}>Reload the process</button></div>
      ) : <ErrorBox error={save.error} title="The process was not saved" />}
      {saved && !dirty ? <div className="success-box" role="status">Saved (version {process.data?.Version}).</div> : null}
      {dirty ? <p className="muted" role="status">Unsaved changes.</p> : null}
      {steps.length === 0 ? (
        <EmptyState title="No steps yet" action={<div className="page-actions center"><button type="button" className="btn btn-primary" onClick={() => add('script')}>Add a script step</button><button type="button" className="btn" onClick={() => add('package')}>Add a package step</button></div>}>
          A deployment runs its project's steps in order. Start with a script.
        </EmptyState>
      ) : (
        <div className="process">
          <ol className="step-list">
            {steps.map((s, i) => (
              <li key={i} className={i === selected ? 'selected' : ''}>
                <button type="button" className="step-button" onClick={() => setSelected(i)} aria-current={i === selected}>
                  <span className="step-number">{i + 1}.</span>
                  <span><strong>{s.Name || 'Unnamed step'}</strong><span className="muted small">{s.Actions[0]?.ActionType === PACKAGE ? 'Deploy a package' : 'Run a script'}{s.Actions[0]?.IsDisabled ? ' · disabled' : ''}{s.Condition !== 'Success' ? ` · ${s.Condition}` : ''}</span></span>
                </button>
                <span className="row-actions">
                  <button type="button" className="btn btn-small" disabled={i === 0} onClick={() => move(i, -1)} aria-label={`Move ${s.Name} up`}>↑</button>
                  <button type="button" className="btn btn-small" disabled={i === steps.length - 1} onClick={() => move(i, 1)} aria-label={`Move ${s.Name} down`}>↓</button>
                  <ConfirmButton className="btn btn-small btn-danger" question={`Remove the step ${s.Name}? (Nothing changes until you save.)`} onConfirm={() => { setSteps(steps.filter((_, j) => j !== i)); setSelected(Math.max(0, Math.min(selected, steps.length - 2))); }}>Remove</ConfirmButton>
                </span>
              </li>
            ))}
          </ol>
          {current ? <StepEditor key={`${selected}-${current.Id}`} step={current} onChange={(s) => update(selected, s)} environments={environments.data ?? []} channels={channels.data?.Items ?? []} packages={(packages.data?.Items ?? []).map((x) => x.PackageId)} /> : null}
        </div>
      )}
    </Page>
  );
}
