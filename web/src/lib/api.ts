// The portal talks to the public REST API only, with the session cookie the sign-in set. Every
// request that changes something echoes the anti-forgery cookie in X-Octopus-Csrf-Token, as any
// Octopus client must. Errors become ApiError with Octopus's sentence, never a stack trace.

export const CSRF_COOKIE = 'Octopus-Csrf-Token';
export const CSRF_HEADER = 'X-Octopus-Csrf-Token';

/** What went wrong, in words a user can act on; `status` 0 means the server did not answer. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly details: readonly string[] = [],
    readonly node?: string,
  ) {
    super(message);
  }

  get unreachable(): boolean {
    return this.status === 0 || this.status === 502 || this.status === 503 || this.status === 504;
  }
}

export function cookie(name: string): string | undefined {
  for (const part of document.cookie.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return decodeURIComponent(v.join('='));
  }
  return undefined;
}

/** Listeners told about every answer: which node served it, and whether the server answered at all. */
type Health = { node?: string; reachable: boolean; signedOut?: boolean };
const listeners = new Set<(h: Health) => void>();
export function onHealth(fn: (h: Health) => void): () => void {
  listeners.add(fn);
  return () => { listeners.delete(fn); };
}
function report(h: Health): void {
  for (const l of listeners) l(h);
}

async function errorOf(res: Response): Promise<ApiError> {
  const node = res.headers.get('Octopus-Node') ?? undefined;
  let message = `The server answered ${res.status} ${res.statusText}.`;
  let details: string[] = [];
  try {
    const body = (await res.json()) as { ErrorMessage?: unknown; Errors?: unknown };
    if (typeof body.ErrorMessage === 'string' && body.ErrorMessage) message = body.ErrorMessage;
    if (Array.isArray(body.Errors)) details = body.Errors.filter((e): e is string => typeof e === 'string' && e !== message);
  } catch {
    // Not JSON (a proxy's page): the status says enough.
    if (res.status === 502 || res.status === 503 || res.status === 504) message = 'The server is not answering right now (the node may be restarting or gone); trying again shortly.';
  }
  return new ApiError(message, res.status, details, node);
}

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  body?: unknown;
  signal?: AbortSignal;
  /** Return the text rather than parsed JSON. */
  text?: boolean;
}

/** One call to the API; `path` starts with /api. */
export async function api<T = unknown>(path: string, o: RequestOptions = {}): Promise<T> {
  const method = o.method ?? 'GET';
  const headers: Record<string, string> = { Accept: o.text ? 'text/plain' : 'application/json' };
  if (method !== 'GET') {
    const csrf = cookie(CSRF_COOKIE);
    if (csrf) headers[CSRF_HEADER] = csrf;
  }
  let body: BodyInit | undefined;
  if (o.body instanceof FormData) body = o.body;
  else if (o.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(o.body);
  }
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body, credentials: 'same-origin', signal: o.signal });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    report({ reachable: false });
    throw new ApiError('The server did not answer: the node that served this page may have gone. Trying again…', 0);
  }
  const node = res.headers.get('Octopus-Node') ?? undefined;
  if (res.status === 401 && path !== '/api/users/login') {
    report({ node, reachable: true, signedOut: true });
  } else {
    report({ node, reachable: !(res.status === 502 || res.status === 503 || res.status === 504) });
  }
  if (!res.ok) throw await errorOf(res);
  if (res.status === 204) return undefined as T;
  if (o.text) return (await res.text()) as T;
  const type = res.headers.get('content-type') ?? '';
  return (type.includes('json') ? await res.json() : await res.text()) as T;
}

/** Octopus's collection shape. */
export interface Collection<T> {
  ItemType: string;
  TotalResults: number;
  ItemsPerPage: number;
  NumberOfPages: number;
  LastPageNumber: number;
  Items: T[];
}

/** A query string from defined values only; arrays comma-joined (SPEC.md §5). */
export function qs(params: Record<string, string | number | boolean | readonly string[] | undefined | null>): string {
  const out = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue;
    if (Array.isArray(v)) { if (v.length) out.set(k, v.join(',')); } else out.set(k, String(v));
  }
  const s = out.toString();
  return s ? `?${s}` : '';
}

/**
 * An upload with progress (fetch cannot report upload progress): multipart through XMLHttpRequest,
 * with the anti-forgery header. Resolves with the parsed answer, rejects with ApiError.
 */
export function upload<T>(path: string, form: FormData, onProgress: (sent: number, total: number) => void, signal?: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', path);
    xhr.withCredentials = true;
    xhr.setRequestHeader('Accept', 'application/json');
    const csrf = cookie(CSRF_COOKIE);
    if (csrf) xhr.setRequestHeader(CSRF_HEADER, csrf);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded, e.total); };
    xhr.onerror = () => reject(new ApiError('The upload was cut off: the server stopped answering. Nothing was stored; try again.', 0));
    xhr.onabort = () => reject(new ApiError('The upload was cancelled. Nothing was stored.', 0));
    xhr.onload = () => {
      let parsed: unknown;
      try { parsed = JSON.parse(xhr.responseText); } catch { parsed = undefined; }
      if (xhr.status >= 200 && xhr.status < 300) { resolve(parsed as T); return; }
      const b = parsed as { ErrorMessage?: string; Errors?: string[] } | undefined;
      reject(new ApiError(b?.ErrorMessage ?? `The server answered ${xhr.status}.`, xhr.status, b?.Errors ?? []));
    };
    signal?.addEventListener('abort', () => xhr.abort());
    xhr.send(form);
  });
}
