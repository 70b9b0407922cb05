// The built-in feed: upload with a progress bar (streamed to shared storage by whichever node
// receives it), every package with its versions, size, build information, download and delete.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useRef, useState, type FormEvent } from 'react';
import { Ago, ConfirmButton, EmptyState, ErrorBox, Field, Loading, Page, Paging } from '../../components/ui';
import { ApiError, api, qs, upload, type Collection } from '../../lib/api';
import { useSession } from '../../lib/session';
import { spacePath, useSpaceId } from '../../lib/space';

interface Pkg {
  Id: string; PackageId: string; Version: string; FileExtension: string; PackageSizeBytes: number; Published: string;
  PackageVersionBuildInformation: { Branch?: string; BuildUrl?: string; Commits?: { Id: string; Comment: string }[] } | null;
}

function size(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(2)} GB`;
}

function Upload({ spaceId, onDone }: { spaceId: string; onDone: () => void }) {
  const input = useRef<HTMLInputElement>(null);
  const [progress, setProgress] = useState<{ sent: number; total: number } | undefined>();
  const [message, setMessage] = useState('');
  const [mode, setMode] = useState('FailIfExists');
  const send = useMutation({
    mutationFn: (file: File) => {
      const form = new FormData();
      form.append('fileToUpload', file, file.name);
      setProgress({ sent: 0, total: file.size });
      // upload() passes Octopus's Errors through as they are; the first repeats ErrorMessage, so drop it.
      return upload<Pkg>(spacePath(spaceId, `packages/raw${qs({ overwriteMode: mode })}`), form, (sent, total) => setProgress({ sent, total }))
        .catch((err: unknown) => {
          if (err instanceof ApiError) throw new ApiError(err.message, err.status, err.details.filter((d) => d !== err.message), err.node);
          throw err;
        });
    },
    onSuccess: (p, file) => { setProgress({ sent: file.size, total: file.size }); setMessage(p ? `Uploaded ${p.PackageId} ${p.Version}.` : 'Uploaded.'); if (input.current) input.current.value = ''; onDone(); },
    onError: () => setProgress(undefined),
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setMessage('');
    const file = input.current?.files?.[0];
    if (file) send.mutate(file);
  };
  const pct = progress && progress.total ? Math.round((progress.sent / progress.total) * 100) : 0;
  return (
    <form className="card" onSubmit={submit}>
      <h2>Upload a package</h2>
      <ErrorBox error={send.error} title="Not uploaded" />
      {message ? <div className="success-box" role="status">{message}</div> : null}
      <div className="form-row">
        <Field label="Package file" hint="Named Id.Version.ext: MyApp.1.2.3.zip, .tar.gz, .tgz, .tar or .nupkg.">{(id) => <input id={id} ref={input} type="file" accept=".zip,.tar,.gz,.tgz,.nupkg" required />}</Field>
        <Field label="If this version exists">{(id) => (
          <select id={id} value={mode} onChange={(e) => setMode(e.target.value)}>
            <option value="FailIfExists">Refuse the upload</option>
            <option value="OverwriteExisting">Replace it</option>
            <option value="IgnoreIfExists">Keep the existing one</option>
          </select>
        )}</Field>
        <button type="submit" className="btn btn-primary" disabled={send.isPending}>Upload</button>
      </div>
      {progress ? (
        <div className="upload-progress">
          <progress max={100} value={pct} aria-label="Upload progress">{pct}%</progress>
          <span>{pct}% · {size(progress.sent)} of {size(progress.total)}</span>
        </div>
      ) : null}
    </form>
  );
}

export default function Packages() {
  const spaceId = useSpaceId();
  const session = useSession();
  const client = useQueryClient();
  const [skip, setSkip] = useState(0);
  const [open, setOpen] = useState<string | undefined>();
  const latest = useQuery({ queryKey: ['packages', spaceId, 'latest', skip], queryFn: () => api<Collection<Pkg>>(spacePath(spaceId, `packages${qs({ latest: true, skip, take: 30 })}`)) });
  const versions = useQuery({
    queryKey: ['packages', spaceId, 'versions', open],
    queryFn: () => api<Collection<Pkg>>(spacePath(spaceId, `packages${qs({ filter: open, take: 100 })}`)),
    enabled: Boolean(open),
  });
  const refresh = () => client.invalidateQueries({ queryKey: ['packages', spaceId] });
  const remove = useMutation({ mutationFn: (id: string) => api(spacePath(spaceId, `packages/${encodeURIComponent(id)}`), { method: 'DELETE' }), onSuccess: refresh });
  const admin = session.isAdmin || session.can('BuiltInFeedAdminister');
  const row = (p: Pkg, isLatest: boolean) => (
    <tr key={p.Id}>
      <td>{isLatest ? <button type="button" className="link-button" aria-expanded={open === p.PackageId} onClick={() => setOpen(open === p.PackageId ? undefined : p.PackageId)}><strong>{p.PackageId}</strong></button> : <span className="muted">{p.PackageId}</span>}</td>
      <td>{p.Version}</td>
      <td className="hide-narrow">{size(p.PackageSizeBytes)}</td>
      <td className="hide-narrow"><Ago at={p.Published} /></td>
      <td className="hide-narrow">{p.PackageVersionBuildInformation ? <>{p.PackageVersionBuildInformation.Branch ?? ''} {p.PackageVersionBuildInformation.BuildUrl ? <a href={p.PackageVersionBuildInformation.BuildUrl}>build</a> : null}{p.PackageVersionBuildInformation.Commits?.length ? <span className="muted small"> · {p.PackageVersionBuildInformation.Commits.length} commit{p.PackageVersionBuildInformation.Commits.length === 1 ? '' : 's'}</span> : null}</> : <span className="muted">—</span>}</td>
      <td className="row-actions">
        <a className="btn btn-small" href={spacePath(spaceId, `packages/${encodeURIComponent(p.Id)}/raw`)} download>Download</a>
        {admin ? <ConfirmButton className="btn btn-small btn-danger" question={`Delete ${p.PackageId} ${p.Version} from the feed?`} onConfirm={() => remove.mutate(p.Id)}>Delete</ConfirmButton> : null}
      </td>
    </tr>
  );
  return (
    <Page title="Packages">
      <Upload spaceId={spaceId} onDone={() => void refresh()} />
      <ErrorBox error={latest.error ?? remove.error} />
      {latest.isPending ? <Loading what="Loading packages" /> : null}
      {latest.data && latest.data.Items.length === 0 ? <EmptyState title="The feed is empty">Upload a package above. Its file name gives its id and version: <code>Id.Version.ext</code>, for example <code>MyApp.1.2.3.zip</code>, <code>MyApp.1.2.3.tar.gz</code> or <code>MyApp.1.2.3.nupkg</code> (package id MyApp, version 1.2.3). Builds can push the same way with the Octopus client or CLI (POST /api/{'{'}spaceId{'}'}/packages/raw).</EmptyState> : null}
      {latest.data && latest.data.Items.length ? (
        <>
          <div className="table-wrap">
            <table>
              <thead><tr><th>Package</th><th>Version</th><th className="hide-narrow">Size</th><th className="hide-narrow">Published</th><th className="hide-narrow">Build</th><th><span className="visually-hidden">Actions</span></th></tr></thead>
              <tbody>
                {latest.data.Items.flatMap((p) => [
                  row(p, true),
                  ...(open === p.PackageId ? (versions.data?.Items ?? []).filter((v) => v.PackageId === p.PackageId && v.Id !== p.Id).map((v) => row(v, false)) : []),
                ])}
              </tbody>
            </table>
          </div>
          <p className="hint">Each row is the newest version of a package; select its name to see the others.</p>
          <Paging skip={skip} take={30} total={latest.data.TotalResults} onChange={setSkip} />
        </>
      ) : null}
    </Page>
  );
}
