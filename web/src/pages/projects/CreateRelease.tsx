// Create a release: a version (the server's template picks the next when empty), a channel when
// the project has several, and the version of each package the process deploys (latest by default).
import { useMutation, useQuery, useQueries, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { ErrorBox, Field, Loading, Page } from '../../components/ui';
import { api, qs, type Collection } from '../../lib/api';
import { spacePath } from '../../lib/space';
import { useProject } from './ProjectLayout';
import { useSpaceName } from './releaseShared';

interface ProcessDoc { Steps: { Name: string; Actions: { Name: string; ActionType: string; IsDisabled: boolean; Packages: { PackageId?: string }[]; Properties: Record<string, string> }[] }[] }

export default function CreateRelease() {
  const { spaceId = 'Spaces-1' } = useParams();
  const p = useProject().data!;
  const navigate = useNavigate();
  const client = useQueryClient();
  const spaceName = useSpaceName(spaceId);
  const process = useQuery({ queryKey: ['process', spaceId, p.Id], queryFn: () => api<ProcessDoc>(spacePath(spaceId, `projects/${encodeURIComponent(p.Id)}/deploymentprocesses`)) });
  const channels = useQuery({ queryKey: ['channels', spaceId, p.Id], queryFn: () => api<Collection<{ Id: string; Name: string }>>(spacePath(spaceId, `projects/${encodeURIComponent(p.Id)}/channels`)) });
  const packageActions = (process.data?.Steps ?? []).flatMap((s) => s.Actions)
    .filter((a) => a.ActionType === 'Octopus.TentaclePackage' && !a.IsDisabled)
    .map((a) => ({ action: a.Name, packageId: a.Packages[0]?.PackageId ?? a.Properties['Octopus.Action.Package.PackageId'] ?? '' }));
  const versions = useQueries({
    queries: packageActions.map((a) => ({
      queryKey: ['packages', spaceId, 'versions', a.packageId],
      queryFn: () => api<Collection<{ PackageId: string; Version: string }>>(spacePath(spaceId, `packages${qs({ filter: a.packageId, take: 100 })}`)),
    })),
  });
  const [version, setVersion] = useState('');
  const [channel, setChannel] = useState('');
  const [chosen, setChosen] = useState<Record<string, string>>({});
  const create = useMutation({
    mutationFn: () => api<{ ReleaseId: string; ReleaseVersion: string }>(spacePath(spaceId, 'releases/create/v1'), {
      method: 'POST',
      body: {
        spaceName: spaceName.data!.Name, ProjectName: p.Name,
        ...(version.trim() ? { ReleaseVersion: version.trim() } : {}),
        ...(channel ? { ChannelName: channel } : {}),
        Packages: Object.entries(chosen).filter(([, v]) => v).map(([action, v]) => `${action}:${v}`),
      },
    }),
    onSuccess: async (r) => {
      await client.invalidateQueries({ queryKey: ['releases', spaceId, p.Id] });
      void navigate(`/${encodeURIComponent(spaceId)}/projects/${encodeURIComponent(p.Id)}/releases/${encodeURIComponent(r.ReleaseId)}`);
    },
  });
  const submit = (e: FormEvent) => { e.preventDefault(); create.mutate(); };
  if (process.isPending || spaceName.isPending) return <Loading />;
  return (
    <Page title="Create release" breadcrumb={<Link to={`/${encodeURIComponent(spaceId)}/projects/${encodeURIComponent(p.Id)}/releases`}>Releases</Link>}>
      <form className="card" onSubmit={submit}>
        <ErrorBox error={create.error ?? process.error ?? spaceName.error} title={create.error ? 'The release was not created' : undefined} />
        <Field label="Version" hint="Leave empty for the next version from the project's template (0.0.1, then 0.0.2, …).">{(id) => <input id={id} value={version} placeholder="next version" onChange={(e) => setVersion(e.target.value)} />}</Field>
        {(channels.data?.Items.length ?? 0) > 1 ? (
          <Field label="Channel">{(id) => <select id={id} value={channel} onChange={(e) => setChannel(e.target.value)}><option value="">Default</option>{channels.data!.Items.map((c) => <option key={c.Id} value={c.Name}>{c.Name}</option>)}</select>}</Field>
        ) : null}
        {packageActions.map((a, i) => (
          <Field key={a.action} label={`Package ${a.packageId} (step ${a.action})`} hint="Empty: the latest version in the feed.">{(id) => (
            <select id={id} value={chosen[a.action] ?? ''} onChange={(e) => setChosen({ ...chosen, [a.action]: e.target.value })}>
              <option value="">Latest</option>
              {(versions[i]?.data?.Items ?? []).filter((x) => x.PackageId === a.packageId).map((x) => <option key={x.Version} value={x.Version}>{x.Version}</option>)}
            </select>
          )}</Field>
        ))}
        {process.data && process.data.Steps.length === 0 ? <p className="error-text">This project has no steps yet: add some to its process first.</p> : null}
        <button type="submit" className="btn btn-primary" disabled={create.isPending}>Save</button>
      </form>
    </Page>
  );
}
