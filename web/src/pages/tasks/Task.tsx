// A task: its summary (state, node, times), its log as Octopus's tree (task → steps → actions),
// growing live from the Server-Sent Events stream any node serves (a stream cut by a dying node
// reconnects through another and resumes where it stopped), cancel and re-run, and artifacts.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useMemo, useReducer, useRef, useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { Ago, ErrorBox, Loading, Page, StateIcon, duration } from '../../components/ui';
import { ApiError, api, qs, type Collection } from '../../lib/api';
import type { Task as TaskResource } from '../../lib/types';

interface LogElement { Category: string; OccurredAt: string; MessageText: string; Detail?: string | null }
interface Block {
  id: string;
  parentId: string | null;
  name: string;
  status: string;
  started?: string;
  ended?: string;
  attempt: number;
  elements: LogElement[];
  dropped: number;
  children: string[];
}
interface Attempt { attempt: number; elements: LogElement[]; dropped: number; children: string[]; node?: string; recovery: LogElement[]; firstStart?: string }
interface LogState { blocks: Map<string, Block>; attempts: Map<number, Attempt>; version: number }

type LogEvent =
  | { type: 'block'; data: { Event: 'Started' | 'Ended'; Id: string; ParentId: string | null; Name: string; Status: string; OccurredAt: string; Attempt: number } }
  | { type: 'log'; data: { BlockId: string; Attempt: number; Kind: string; LogElements: LogElement[] }; taskId: string }
  | { type: 'reset' };

// The page keeps the newest lines of each block; the raw log has them all.
const KEEP_PER_BLOCK = 2000;

/** The newest KEEP_PER_BLOCK lines of `target` with `more` added, and how many fell off the front. */
function keep(target: { elements: LogElement[]; dropped: number }, more: LogElement[]): { elements: LogElement[]; dropped: number } {
  const elements = [...target.elements, ...more];
  const over = elements.length - KEEP_PER_BLOCK;
  return over > 0 ? { elements: elements.slice(over), dropped: target.dropped + over } : { elements, dropped: target.dropped };
}

/** Pure: every event gives a new state whose changed blocks and attempts are copies (React may call it twice). */
function reduce(s: LogState, e: LogEvent): LogState {
  if (e.type === 'reset') return { blocks: new Map(), attempts: new Map(), version: s.version + 1 };
  const blocks = new Map(s.blocks);
  const attempts = new Map(s.attempts);
  const attempt = (n: number, change: (a: Attempt) => Partial<Attempt>): void => {
    const a = attempts.get(n) ?? { attempt: n, elements: [], dropped: 0, children: [], recovery: [] };
    attempts.set(n, { ...a, ...change(a) });
  };
  if (e.type === 'block') {
    const d = e.data;
    const known = blocks.get(d.Id);
    if (!known) {
      const parent = d.ParentId ? blocks.get(d.ParentId) : undefined;
      if (parent) blocks.set(parent.id, { ...parent, children: [...parent.children, d.Id] });
      else attempt(d.Attempt, (a) => ({ children: [...a.children, d.Id], ...(!a.firstStart || d.OccurredAt < a.firstStart ? { firstStart: d.OccurredAt } : {}) }));
    }
    const b: Block = known ? { ...known } : { id: d.Id, parentId: d.ParentId, name: d.Name, status: d.Status, attempt: d.Attempt, elements: [], dropped: 0, children: [] };
    if (d.Event === 'Started') { b.started = d.OccurredAt; b.status = 'Running'; } else { b.ended = d.OccurredAt; b.status = d.Status; }
    blocks.set(d.Id, b);
  } else {
    const d = e.data;
    const b = blocks.get(d.BlockId);
    if (d.Kind === 'recovery') attempt(d.Attempt, (a) => ({ recovery: [...a.recovery, ...d.LogElements] }));
    else if (b && d.BlockId !== e.taskId) blocks.set(b.id, { ...b, ...keep(b, d.LogElements) });
    else {
      // The first line of an attempt names the node that ran it.
      const started = d.LogElements.map((l) => /started on node (\S+), attempt/.exec(l.MessageText)?.[1]).find(Boolean);
      attempt(d.Attempt, (a) => ({ ...keep(a, d.LogElements), ...(started && !a.node ? { node: started } : {}) }));
    }
  }
  return { blocks, attempts, version: s.version + 1 };
}

/** Follows the log stream; EventSource reconnects by itself and sends Last-Event-ID, so nothing repeats. */
function useLogStream(taskId: string, onState: () => void) {
  const [log, dispatch] = useReducer(reduce, undefined, (): LogState => ({ blocks: new Map<string, Block>(), attempts: new Map<number, Attempt>(), version: 0 }));
  const [connection, setConnection] = useState<'connecting' | 'open' | 'reconnecting' | 'ended' | 'failed'>('connecting');
  const onStateRef = useRef(onState);
  onStateRef.current = onState;
  useEffect(() => {
    dispatch({ type: 'reset' });
    setConnection('connecting');
    const source = new EventSource(`/api/tasks/${encodeURIComponent(taskId)}/log/stream`, { withCredentials: true });
    const parse = (ev: MessageEvent<string>): unknown => { try { return JSON.parse(ev.data); } catch { return undefined; } };
    source.addEventListener('open', () => setConnection('open'));
    source.addEventListener('block', (ev) => { const data = parse(ev as MessageEvent<string>); if (data) dispatch({ type: 'block', data: data as never }); });
    source.addEventListener('log', (ev) => { const data = parse(ev as MessageEvent<string>); if (data) dispatch({ type: 'log', data: data as never, taskId }); });
    source.addEventListener('state', () => onStateRef.current());
    source.addEventListener('end', () => { source.close(); setConnection('ended'); onStateRef.current(); });
    source.addEventListener('error', () => {
      // CLOSED: the server refused the stream (signed out, no such task); CONNECTING: it is retrying.
      setConnection(source.readyState === EventSource.CLOSED ? 'failed' : 'reconnecting');
    });
    return () => source.close();
  }, [taskId]);
  return { log, connection };
}

function Lines({ elements, dropped, verbose, raw }: { elements: LogElement[]; dropped: number; verbose: boolean; raw: string }) {
  const shown = verbose ? elements : elements.filter((l) => l.Category !== 'Verbose');
  if (!shown.length && !dropped) return null;
  return (
    <div className="log-lines">
      {dropped ? <div className="log-line log-Verbose">… {dropped} earlier line{dropped === 1 ? '' : 's'} not shown here: see the <a href={raw}>raw log</a>.</div> : null}
      {shown.map((l, i) => (
        <div key={i} className={`log-line log-${l.Category}`}>
          <time dateTime={l.OccurredAt}>{new Date(l.OccurredAt).toLocaleTimeString()}</time>
          {l.MessageText}
          {l.Detail ? <div className="log-detail">{l.Detail}</div> : null}
        </div>
      ))}
    </div>
  );
}

function BlockView({ id, log, verbose, raw, depth }: { id: string; log: LogState; verbose: boolean; raw: string; depth: number }) {
  const b = log.blocks.get(id);
  const failed = b?.status === 'Failed';
  const [open, setOpen] = useState<boolean | undefined>(undefined);
  if (!b) return null;
  // Failed and running blocks open by themselves; the user's choice wins once made.
  const isOpen = open ?? (failed || b.status === 'Running' || depth === 0);
  return (
    <details className={`log-block depth-${depth}`} open={isOpen} onToggle={(e) => setOpen(e.currentTarget.open)}>
      <summary>
        <StateIcon state={b.status} />
        <span className="log-block-name">{b.name}</span>
        <span className="muted log-block-duration">{b.started ? duration(b.started, b.ended ?? null) : ''}</span>
      </summary>
      <Lines elements={b.elements} dropped={b.dropped} verbose={verbose} raw={raw} />
      {b.children.map((c) => <BlockView key={c} id={c} log={log} verbose={verbose} raw={raw} depth={depth + 1} />)}
    </details>
  );
}

function Artifacts({ taskId }: { taskId: string }) {
  const q = useQuery({
    queryKey: ['artifacts', taskId],
    queryFn: () => api<Collection<{ Id: string; Filename: string; Created?: string; Length?: number }>>(`/api/artifacts${qs({ regarding: taskId, take: 100 })}`),
    refetchInterval: 5000,
  });
  if (q.error) return <ErrorBox error={q.error} />;
  const items = q.data?.Items ?? [];
  if (!items.length) return <p className="muted">No artifacts. A script attaches one with <code>new_octopusartifact path [name]</code>.</p>;
  return (
    <ul className="plain">
      {items.map((a) => (
        <li key={a.Id}><a href={`/api/artifacts/${encodeURIComponent(a.Id)}/content`} download={a.Filename}>{a.Filename}</a>{a.Length !== undefined ? <span className="muted"> · {a.Length.toLocaleString()} bytes</span> : null}</li>
      ))}
    </ul>
  );
}

export default function Task() {
  const { taskId = '' } = useParams();
  const client = useQueryClient();
  const navigate = useNavigate();
  const [verbose, setVerbose] = useState(false);
  const [follow, setFollow] = useState(true);
  const task = useQuery({
    queryKey: ['task', taskId],
    queryFn: () => api<TaskResource>(`/api/tasks/${encodeURIComponent(taskId)}`),
    refetchInterval: (q) => (q.state.data?.IsCompleted ? false : 2000),
  });
  const { log, connection } = useLogStream(taskId, () => { void client.invalidateQueries({ queryKey: ['task', taskId] }); });
  const cancel = useMutation({
    mutationFn: () => api(`/api/tasks/${encodeURIComponent(taskId)}/cancel`, { method: 'POST' }),
    onSuccess: () => client.invalidateQueries({ queryKey: ['task', taskId] }),
  });
  const rerun = useMutation({
    mutationFn: () => api<TaskResource>(`/api/tasks/rerun/${encodeURIComponent(taskId)}`, { method: 'POST' }),
    onSuccess: (t) => { void navigate(`/tasks/${encodeURIComponent(t.Id)}`); },
  });

  const end = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (follow && !task.data?.IsCompleted) end.current?.scrollIntoView({ block: 'end' });
  }, [log.version, follow, task.data?.IsCompleted]);

  const attempts: Attempt[] = useMemo(() => [...log.attempts.values()].sort((x, y) => x.attempt - y.attempt), [log]);
  if (task.isPending) return <Loading what="Loading the task" />;
  if (task.error) {
    const missing = task.error instanceof ApiError && task.error.status === 404;
    return <Page title={missing ? 'There is no such task' : 'This task cannot be shown'}><ErrorBox error={task.error} /><p><Link to="/tasks">All tasks</Link></p></Page>;
  }
  const t = task.data;
  const raw = `/api/tasks/${encodeURIComponent(t.Id)}/raw`;
  const nodes = [...new Set(attempts.map((a) => a.node).filter((n): n is string => Boolean(n)))];
  const resumed = attempts.length > 1 && nodes.length > 1;
  return (
    <Page
      title={t.Description || t.Name}
      breadcrumb={<><Link to="/tasks">Tasks</Link> / {t.Id}</>}
      actions={(
        <>
          {!t.IsCompleted ? <button type="button" className="btn btn-danger" disabled={cancel.isPending || t.State === 'Cancelling'} onClick={() => cancel.mutate()}>Cancel</button> : null}
          {t.IsCompleted && t.CanRerun ? <button type="button" className="btn" disabled={rerun.isPending} onClick={() => rerun.mutate()}>Re-run</button> : null}
          <a className="btn" href={raw}>Raw log</a>
        </>
      )}
    >
      <ErrorBox error={cancel.error ?? rerun.error} />
      {resumed ? <div className="banner banner-info card">This task ran on more than one node: {nodes.join(' → ')}. The notes below say which node died and where it went on.</div> : null}
      <div className="card task-summary">
        <StateIcon state={t.State} label />
        <dl className="facts">
          <dt>Node</dt><dd>{t.ServerNode ?? <span className="muted">not started yet</span>}{t.Attempt && t.Attempt > 1 ? <span className="muted"> · attempt {t.Attempt}</span> : null}</dd>
          <dt>Queued</dt><dd><Ago at={t.QueueTime} /></dd>
          <dt>Started</dt><dd>{t.StartTime ? <Ago at={t.StartTime} /> : <span className="muted">waiting for a node</span>}</dd>
          <dt>Duration</dt><dd>{t.StartTime ? duration(t.StartTime, t.CompletedTime) : ''}</dd>
          <dt>Type</dt><dd>{t.Name}</dd>
          {t.ErrorMessage ? <><dt>Error</dt><dd className="error-text">{t.ErrorMessage}</dd></> : null}
        </dl>
      </div>
      <div className="toolbar log-toolbar">
        <label className="checkbox"><input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> Follow new lines</label>
        <label className="checkbox"><input type="checkbox" checked={verbose} onChange={(e) => setVerbose(e.target.checked)} /> Show verbose</label>
        <span className="muted small" role="status">
          {connection === 'reconnecting' ? 'The log stream was cut (the node serving it may have gone); reconnecting through another…'
            : connection === 'failed' ? 'The log stream is closed; reload the page to follow it again.'
              : connection === 'open' ? 'Live' : connection === 'ended' ? '' : 'Connecting…'}
        </span>
      </div>
      <div className="log" aria-label="Task log">
        {attempts.length === 0 ? <div className="log-line log-Verbose">{t.State === 'Queued' ? 'Waiting for a node to start the task…' : 'No log lines yet.'}</div> : null}
        {attempts.map((a) => (
          <section key={a.attempt} className="log-attempt">
            {attempts.length > 1 ? <h2 className="log-attempt-title">Attempt {a.attempt}{a.node ? ` on ${a.node}` : ''}</h2> : null}
            {/* The task's own lines around its steps, in time order: those before the first step above it, the rest below. */}
            <Lines elements={a.elements.filter((l) => !a.firstStart || l.OccurredAt < a.firstStart)} dropped={a.dropped} verbose={verbose} raw={raw} />
            {a.children.map((c: string) => <BlockView key={c} id={c} log={log} verbose={verbose} raw={raw} depth={0} />)}
            {a.firstStart ? <Lines elements={a.elements.filter((l) => l.OccurredAt >= a.firstStart!)} dropped={0} verbose={verbose} raw={raw} /> : null}
            {a.recovery.length ? <div className="log-recovery"><Lines elements={a.recovery} dropped={0} verbose raw={raw} /></div> : null}
          </section>
        ))}
        <div ref={end} />
      </div>
      <h2 className="section-title">Artifacts</h2>
      <div className="card"><Artifacts taskId={t.Id} /></div>
    </Page>
  );
}
