// The project's deployment history, newest first, with live states.
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { useParams } from 'react-router';
import { EmptyState, ErrorBox, Loading, Page, Paging } from '../../components/ui';
import { api, qs, type Collection } from '../../lib/api';
import { spacePath } from '../../lib/space';
import type { Environment, Release } from '../../lib/types';
import { DeploymentsTable } from './DeploymentsTable';
import { useProject } from './ProjectLayout';
import { useDeploymentsWithTasks } from './releaseShared';

export default function Deployments() {
  const { spaceId = 'Spaces-1' } = useParams();
  const p = useProject().data!;
  const [skip, setSkip] = useState(0);
  const deployments = useDeploymentsWithTasks(spaceId, { projects: p.Id, skip, take: 30 }, ['project', p.Id, skip]);
  const environments = useQuery({ queryKey: ['environments', spaceId], queryFn: () => api<Environment[]>(spacePath(spaceId, 'environments/all')) });
  const releases = useQuery({ queryKey: ['releases', spaceId, p.Id, 'all'], queryFn: () => api<Collection<Release>>(spacePath(spaceId, `projects/${encodeURIComponent(p.Id)}/releases${qs({ take: 1000 })}`)) });
  const base = `/${encodeURIComponent(spaceId)}/projects/${encodeURIComponent(p.Id)}`;
  return (
    <Page title="Deployments">
      <ErrorBox error={deployments.error} />
      {deployments.isPending ? <Loading what="Loading deployments" /> : null}
      {deployments.data && deployments.data.Items.length === 0 ? <EmptyState title="No deployments yet">Create a release, then deploy it from its page.</EmptyState> : null}
      {deployments.data && deployments.data.Items.length ? (
        <>
          <DeploymentsTable rows={deployments.data.Items} environments={environments.data ?? []} releases={new Map((releases.data?.Items ?? []).map((r) => [r.Id, r]))} base={base} />
          <Paging skip={skip} take={30} total={deployments.data.TotalResults} onChange={setSkip} />
        </>
      ) : null}
    </Page>
  );
}
