// A project's pages share its left menu, as in Octopus: Overview, Process, Variables, Channels,
// Releases, Deployments, Settings.
import { useQuery } from '@tanstack/react-query';
import { Link, Outlet, useParams } from 'react-router';
import { SideNav } from '../../components/Layout';
import { ErrorBox, Loading } from '../../components/ui';
import { api } from '../../lib/api';
import { spacePath } from '../../lib/space';
import type { Project } from '../../lib/types';

export function useProject() {
  const { spaceId = 'Spaces-1', projectId = '' } = useParams();
  return useQuery({ queryKey: ['project', spaceId, projectId], queryFn: () => api<Project>(spacePath(spaceId, `projects/${encodeURIComponent(projectId)}`)) });
}

export default function ProjectLayout() {
  const { spaceId = 'Spaces-1', projectId = '' } = useParams();
  const project = useProject();
  const base = `/${encodeURIComponent(spaceId)}/projects/${encodeURIComponent(projectId)}`;
  if (project.isPending) return <Loading what="Loading the project" />;
  if (project.error) return <ErrorBox error={project.error} title="This project cannot be shown" />;
  return (
    <div className="with-side">
      <aside>
        <p className="side-title"><Link to={`/${encodeURIComponent(spaceId)}/projects`}>Projects</Link> / <strong>{project.data.Name}</strong></p>
        <SideNav label="Project" items={[
          [base, 'Overview'], [`${base}/process`, 'Process'], [`${base}/variables`, 'Variables'], [`${base}/channels`, 'Channels'],
          [`${base}/releases`, 'Releases'], [`${base}/deployments`, 'Deployments'], [`${base}/settings`, 'Settings'],
        ]} />
      </aside>
      <div className="with-side-main"><Outlet /></div>
    </div>
  );
}
