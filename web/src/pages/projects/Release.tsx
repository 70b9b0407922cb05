// A release: what it froze (version, packages, build information), where it was deployed, and
// "Deploy": one environment at a time, as the lifecycle allows (the server names the phase when not).
import { useMutation, useQuery } from '@tanstack/react-query';
import { Fragment, useState, type FormEvent } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { Ago, EmptyState, ErrorBox, Field, Loading, Page } from '../../components/ui';
import { api } from '../../lib/api';
import { spacePath } from '../../lib/space';
import type { Environment, Lifecycle, Release as ReleaseResource } from '../../lib/types';
import { DeploymentsTable } from './DeploymentsTable';
import { useProject } from './ProjectLayout';
import { useDeploymentsWithTasks, useSpaceName } from './releaseShared';

interface ReleaseDoc extends ReleaseResource { BuildInformation?: { PackageId: string; Version: string; Branch?: string; BuildUrl?: string; Commits?: { Id: string; Comment: string }[] }[] }

/** The environments a lifecycle deploys to, in phase order; every environment when it has no phases. */
export function lifecycleEnvironments(lifecycle: Lifecycle | undefined, all: Environment[]): Environment[] {
  if (!lifecycle || lifecycle.Phases.length === 0) return all;
  const ids = lifecycle.Phases.flatMap((p) => [...p.AutomaticDeploymentTargets, ...p.OptionalDeploymentTargets]);
  return ids.map((id) => all.find((e) => e.Id === id)).filter((e): e is Environment => Boolean(e));
}

export default function Release() {
  const { spaceId = 'Spaces-1', releaseId = '' } = useParams();
  const p = useProject().data!;
  const navigate = useNavigate();
  const spaceName = useSpaceName(spaceId);
  const release = useQuery({ queryKey: ['release', spaceId, releaseId], queryFn: () => api<ReleaseDoc>(spacePath(spaceId, `releases/${encodeURIComponent(releaseId)}`)) });
  const environments = useQuery({ queryKey: ['environments', spaceId], queryFn: () => api<Environment[]>(spacePath(spaceId, 'environments/all')) });
  const lifecycle = useQuery({ queryKey: ['lifecycle', spaceId, p.LifecycleId], queryFn: () => api<Lifecycle>(spacePath(spaceId, `lifecycles/${encodeURIComponent(p.LifecycleId)}`)) });
  const deployments = useDeploymentsWithTasks(spaceId, { projects: p.Id, take: 100 }, ['release', releaseId]);
  const [environment, setEnvironment] = useState('');
  const targets = lifecycleEnvironments(lifecycle.data, environments.data ?? []);
  const deploy = useMutation({
    mutationFn: () => api<{ DeploymentServerTasks: { DeploymentId: string; ServerTaskId: string }[] }>(spacePath(spaceId, 'deployments/create/untenanted/v1'), {
      method: 'POST',
      body: { spaceName: spaceName.data!.Name, ProjectName: p.Name, ReleaseVersion: release.data!.Version, EnvironmentNames: [targets.find((e) => e.Id === (environment || targets[0]?.Id))!.Name] },
    }),
    onSuccess: (r) => { const t = r.DeploymentServerTasks[0]; if (t) void navigate(`/tasks/${encodeURIComponent(t.ServerTaskId)}`); },
  });
  const submit = (e: FormEvent) => { e.preventDefault(); deploy.mutate(); };
  if (release.isPending) return <Loading what="Loading the release" />;
  if (release.error) return <ErrorBox error={release.error} />;
  const r = release.data;
  const base = `/${encodeURIComponent(spaceId)}/projects/${encodeURIComponent(p.Id)}`;
  const mine = (deployments.data?.Items ?? []).filter((x) => x.deployment.ReleaseId === r.Id);
  return (
    <Page title={`Release ${r.Version}`} breadcrumb={<Link to={`${base}/releases`}>Releases</Link>}>
      <div className="grid">
        <section className="card">
          <h2>Deploy</h2>
          {targets.length === 0 ? <p>No environment to deploy to: <Link to={`/${encodeURIComponent(spaceId)}/infrastructure/environments`}>add one</Link>{lifecycle.data?.Phases.length ? ' to this project\'s lifecycle' : ''}.</p> : (
            <form onSubmit={submit}>
              <ErrorBox error={deploy.error} title="Not deployed" />
              <Field label="Environment">{(id) => (
                <select id={id} value={environment || targets[0]?.Id} onChange={(e) => setEnvironment(e.target.value)}>
                  {targets.map((e) => <option key={e.Id} value={e.Id}>{e.Name}</option>)}
                </select>
              )}</Field>
              <button type="submit" className="btn btn-primary" disabled={deploy.isPending || !spaceName.data}>Deploy</button>
            </form>
          )}
        </section>
        <section className="card">
          <h2>What it holds</h2>
          <dl className="facts">
            <dt>Created</dt><dd><Ago at={r.Assembled} /></dd>
            <dt>Packages</dt><dd>{(r.SelectedPackages ?? []).length ? (r.SelectedPackages ?? []).map((s) => <div key={s.ActionName}>{s.PackageId ?? s.ActionName} <strong>{s.Version}</strong> <span className="muted small">(step {s.ActionName})</span></div>) : <span className="muted">none</span>}</dd>
            {(r.BuildInformation ?? []).map((b) => (
              <Fragment key={b.PackageId}><dt>Build of {b.PackageId}</dt><dd>{b.Branch ? <>branch {b.Branch} </> : null}{b.BuildUrl ? <a href={b.BuildUrl}>build</a> : null}{(b.Commits ?? []).map((c) => <div key={c.Id} className="small"><code>{c.Id.slice(0, 8)}</code> {c.Comment}</div>)}</dd></Fragment>
            ))}
          </dl>
          <p className="hint">The process and variables are frozen as they were when the release was created.</p>
        </section>
      </div>
      <h2 className="section-title">Deployments of this release</h2>
      {mine.length ? <DeploymentsTable rows={mine} environments={environments.data ?? []} base={base} /> : <EmptyState title="Not deployed yet">Pick an environment above and press Deploy; the task page opens and its log streams as it runs.</EmptyState>}
    </Page>
  );
}
