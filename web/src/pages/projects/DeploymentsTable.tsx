// A table of deployments with their tasks' live states.
import { Link } from 'react-router';
import { Ago, StateIcon, duration } from '../../components/ui';
import type { Deployment, Environment, Release, Task } from '../../lib/types';

export function DeploymentsTable({ rows, environments, releases, base }: {
  rows: { deployment: Deployment; task?: Task }[]; environments: Environment[]; releases?: Map<string, Release>; base: string;
}) {
  const env = new Map(environments.map((e) => [e.Id, e.Name]));
  return (
    <div className="table-wrap">
      <table>
        <thead><tr><th>State</th>{releases ? <th>Release</th> : null}<th>Environment</th><th>When</th><th className="hide-narrow">Duration</th><th className="hide-narrow">Node</th></tr></thead>
        <tbody>
          {rows.map(({ deployment: d, task: t }) => (
            <tr key={d.Id}>
              <td>{t ? <Link to={`/tasks/${encodeURIComponent(t.Id)}`}><StateIcon state={t.State} label /></Link> : <span className="muted">—</span>}</td>
              {releases ? <td><Link to={`${base}/releases/${encodeURIComponent(d.ReleaseId)}`}>{releases.get(d.ReleaseId)?.Version ?? d.ReleaseId}</Link></td> : null}
              <td>{env.get(d.EnvironmentId) ?? d.EnvironmentId}</td>
              <td><Ago at={d.Created} /></td>
              <td className="hide-narrow">{t?.StartTime ? duration(t.StartTime, t.CompletedTime) : ''}</td>
              <td className="hide-narrow">{t?.ServerNode ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
