// The dashboard, Octopus's grid: a row per project (grouped by project group), a column per
// environment, each cell the latest deployment there — release, state, when — linking to its task.
import { useQuery } from '@tanstack/react-query';
import { Link } from 'react-router';
import { Ago, EmptyState, ErrorBox, Loading, Page, StateIcon, duration } from '../../components/ui';
import { api } from '../../lib/api';
import { spacePath, useSpaceId } from '../../lib/space';

interface Item { ProjectId: string; EnvironmentId: string; ReleaseVersion: string; ReleaseId: string; TaskId: string; State: string; Created: string; StartTime?: string | null; CompletedTime: string | null; HasWarningsOrErrors: boolean; ErrorMessage?: string }
interface DashboardDoc {
  Projects: { Id: string; Name: string; ProjectGroupId: string; IsDisabled: boolean }[];
  ProjectGroups: { Id: string; Name: string }[];
  Environments: { Id: string; Name: string }[];
  Items: Item[];
}

export default function Dashboard() {
  const spaceId = useSpaceId();
  const s = encodeURIComponent(spaceId);
  const d = useQuery({ queryKey: ['dashboard', spaceId], queryFn: () => api<DashboardDoc>(spacePath(spaceId, 'dashboard')), refetchInterval: 5000 });
  if (d.isPending) return <Loading what="Loading the dashboard" />;
  if (d.error) return <Page title="Dashboard"><ErrorBox error={d.error} /></Page>;
  const { Projects, ProjectGroups, Environments, Items } = d.data;
  const cell = new Map(Items.map((i) => [`${i.ProjectId}/${i.EnvironmentId}`, i]));
  if (Projects.length === 0) {
    return (
      <Page title="Dashboard">
        <EmptyState title="Nothing deployed yet" action={<Link className="btn btn-primary" to={`/${s}/projects`}>Add a project</Link>}>
          Add environments (Infrastructure), then a project with a process, create a release and deploy it: each deployment shows here.
        </EmptyState>
      </Page>
    );
  }
  return (
    <Page title="Dashboard">
      {Environments.length === 0 ? <p className="muted">No environments yet: <Link to={`/${s}/infrastructure/environments`}>add one</Link> to deploy to.</p> : null}
      <div className="table-wrap">
        <table className="dashboard">
          <thead>
            <tr><th>Project</th>{Environments.map((e) => <th key={e.Id}>{e.Name}</th>)}</tr>
          </thead>
          {ProjectGroups.map((g) => {
            const projects = Projects.filter((p) => p.ProjectGroupId === g.Id);
            if (!projects.length) return null;
            return (
              <tbody key={g.Id}>
                <tr className="group-row"><th colSpan={Environments.length + 1} scope="colgroup">{g.Name}</th></tr>
                {projects.map((p) => (
                  <tr key={p.Id}>
                    <th scope="row"><Link to={`/${s}/projects/${encodeURIComponent(p.Id)}`}>{p.Name}</Link>{p.IsDisabled ? <> <span className="badge">disabled</span></> : null}</th>
                    {Environments.map((e) => {
                      const i = cell.get(`${p.Id}/${e.Id}`);
                      return (
                        <td key={e.Id} className={i ? `cell cell-${i.State}` : 'cell'}>
                          {i ? (
                            <Link to={`/tasks/${encodeURIComponent(i.TaskId)}`} className="cell-link" title={`${p.Name} ${i.ReleaseVersion} to ${e.Name}: ${i.State}${i.StartTime ? `, took ${duration(i.StartTime, i.CompletedTime)}` : ''}${i.ErrorMessage ? ` — ${i.ErrorMessage}` : ''}`}>
                              <StateIcon state={i.State === 'Success' && i.HasWarningsOrErrors ? 'SuccessWithWarning' : i.State} />
                              <span><strong>{i.ReleaseVersion}</strong><span className="muted small"><Ago at={i.CompletedTime ?? i.Created} /></span></span>
                            </Link>
                          ) : <span className="muted small">—</span>}
                        </td>
                      );
                    })}
                  </tr>
                ))}
              </tbody>
            );
          })}
        </table>
      </div>
    </Page>
  );
}
