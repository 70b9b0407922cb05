// A project's releases, newest first, and the way to create one.
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useParams } from 'react-router';
import { Ago, EmptyState, ErrorBox, Loading, Page, Paging } from '../../components/ui';
import { api, qs, type Collection } from '../../lib/api';
import { spacePath } from '../../lib/space';
import type { Release } from '../../lib/types';
import { useProject } from './ProjectLayout';

export default function Releases() {
  const { spaceId = 'Spaces-1' } = useParams();
  const p = useProject().data!;
  const [skip, setSkip] = useState(0);
  const releases = useQuery({
    queryKey: ['releases', spaceId, p.Id, skip],
    queryFn: () => api<Collection<Release>>(spacePath(spaceId, `projects/${encodeURIComponent(p.Id)}/releases${qs({ skip, take: 30 })}`)),
  });
  const base = `/${encodeURIComponent(spaceId)}/projects/${encodeURIComponent(p.Id)}`;
  const create = <Link className="btn btn-primary" to={`${base}/releases/create`}>Create release</Link>;
  return (
    <Page title="Releases" actions={create}>
      <ErrorBox error={releases.error} />
      {releases.isPending ? <Loading what="Loading releases" /> : null}
      {releases.data && releases.data.Items.length === 0 ? <EmptyState title="No releases yet" action={create}>A release freezes the process, the variables and the package versions, ready to deploy.</EmptyState> : null}
      {releases.data && releases.data.Items.length ? (
        <>
          <div className="table-wrap">
            <table>
              <thead><tr><th>Version</th><th>Created</th><th className="hide-narrow">Packages</th></tr></thead>
              <tbody>
                {releases.data.Items.map((r) => (
                  <tr key={r.Id}>
                    <td><Link to={`${base}/releases/${encodeURIComponent(r.Id)}`}><strong>{r.Version}</strong></Link></td>
                    <td><Ago at={r.Assembled} /></td>
                    <td className="hide-narrow">{(r.SelectedPackages ?? []).map((s) => `${s.PackageId ?? s.ActionName} ${s.Version}`).join(', ') || <span className="muted">—</span>}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Paging skip={skip} take={30} total={releases.data.TotalResults} onChange={setSkip} />
        </>
      ) : null}
    </Page>
  );
}
