// A project's own dashboard: the latest deployment to each environment of its lifecycle, and its
// recent releases.
import { useQuery } from '@tanstack/react-query';
import { Link, useParams } from 'react-router';
import { Ago, EmptyState, ErrorBox, Page, StateIcon } from '../../components/ui';
import { api, qs, type Collection } from '../../lib/api';
import { spacePath } from '../../lib/space';
import type { Environment, Lifecycle, Release } from '../../lib/types';
import { useProject } from './ProjectLayout';
import { lifecycleEnvironments } from './Release';
import { useDeploymentsWithTasks } from './releaseShared';

export default function Overview() {
  const { spaceId = 'Spaces-1' } = useParams();
  const p = useProject().data!;
  const base = `/${encodeURIComponent(spaceId)}/projects/${encodeURIComponent(p.Id)}`;
  const environments = useQuery({ queryKey: ['environments', spaceId], queryFn: () => api<Environment[]>(spacePath(spaceId, 'environments/all')) });
  const lifecycle = useQuery({ queryKey: ['lifecycle', spaceId, p.LifecycleId], queryFn: () => api<Lifecycle>(spacePath(spaceId, `lifecycles/${encodeURIComponent(p.LifecycleId)}`)) });
  const releases = useQuery({ queryKey: ['releases', spaceId, p.Id, 'recent'], queryFn: () => api<Collection<Release>>(spacePath(spaceId, `projects/${encodeURIComponent(p.Id)}/releases${qs({ take: 10 })}`)) });
  const deployments = useDeploymentsWithTasks(spaceId, { projects: p.Id, take: 200 }, ['overview', p.Id]);
  const envs = lifecycleEnvironments(lifecycle.data, environments.data ?? []);
  const versions = new Map((releases.data?.Items ?? []).map((r) => [r.Id, r.Version]));
  const latest = (envId: string) => (deployments.data?.Items ?? []).find((x) => x.deployment.EnvironmentId === envId);
  const create = <Link className="btn btn-primary" to={`${base}/releases/create`}>Create release</Link>;
  return (
    <Page title={p.Name} actions={create}>
      {p.Description ? <p className="muted">{p.Description}</p> : null}
      <ErrorBox error={deployments.error ?? releases.error} />
      <h2 className="section-title">Where it is deployed</h2>
      {envs.length === 0 ? <p className="muted">Its lifecycle has no environments yet.</p> : (
        <div className="grid env-cells">
          {envs.map((e) => {
            const d = latest(e.Id);
            return (
              <div key={e.Id} className="card env-cell">
                <h3>{e.Name}</h3>
                {d ? (
                  <Link to={`/tasks/${encodeURIComponent(d.deployment.TaskId)}`} className="env-cell-link">
                    {d.task ? <StateIcon state={d.task.State} /> : null} <strong>{versions.get(d.deployment.ReleaseId) ?? d.deployment.ReleaseId}</strong> <span className="muted small"><Ago at={d.deployment.Created} /></span>
                  </Link>
                ) : <span className="muted">Not deployed</span>}
              </div>
            );
          })}
        </div>
      )}
      <h2 className="section-title">Recent releases</h2>
      {releases.data && releases.data.Items.length === 0 ? <EmptyState title="No releases yet" action={create}>Define the process first (Process), then create a release to deploy.</EmptyState> : (
        <ul className="plain">
          {(releases.data?.Items ?? []).map((r) => <li key={r.Id}><Link to={`${base}/releases/${encodeURIComponent(r.Id)}`}>{r.Version}</Link> <span className="muted small"><Ago at={r.Assembled} /></span></li>)}
        </ul>
      )}
    </Page>
  );
}
