// The space the portal shows: from the URL (/:spaceId/...), else the one last used, else Spaces-1.
import { useQuery } from '@tanstack/react-query';
import { useParams } from 'react-router';
import { api, type Collection } from './api';
import type { Space } from './types';

const LAST = 'cuttle.space';

export function lastSpace(): string {
  try {
    return localStorage.getItem(LAST) ?? 'Spaces-1';
  } catch {
    return 'Spaces-1';
  }
}

export function rememberSpace(id: string): void {
  try { localStorage.setItem(LAST, id); } catch { /* private mode: fine */ }
}

/** The current space id: the route's, or the remembered one on pages outside any space (Tasks, Configuration). */
export function useSpaceId(): string {
  const { spaceId } = useParams();
  return spaceId ?? lastSpace();
}

export function useSpaces() {
  return useQuery({ queryKey: ['spaces'], queryFn: () => api<Collection<Space>>('/api/spaces?take=2147483647'), staleTime: 30_000 });
}

/** `/api/{space}/…` for the current space. */
export function spacePath(spaceId: string, rest: string): string {
  return `/api/${encodeURIComponent(spaceId)}/${rest.replace(/^\//, '')}`;
}
