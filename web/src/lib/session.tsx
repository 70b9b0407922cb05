// Who is signed in, from GET /api/users/me and their permissions. The session cookie works on every
// node (sessions live in the shared database), so nothing here knows which node answers.
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useCallback } from 'react';
import { useNavigate } from 'react-router';
import { api } from './api';
import type { Permissions, User } from './types';

export interface Session {
  user: User;
  permissions: Permissions;
  isAdmin: boolean;
  can: (permission: string) => boolean;
}

export function useSessionQuery() {
  return useQuery({
    queryKey: ['session'],
    queryFn: async (): Promise<Session> => {
      const [user, permissions] = await Promise.all([
        api<User>('/api/users/me'),
        api<Permissions>('/api/users/me/permissions'),
      ]);
      const set = new Set(permissions.SystemPermissions);
      return { user, permissions, isAdmin: permissions.IsAdministrator, can: (p) => set.has(p) };
    },
    staleTime: 60_000,
    retry: (n, err) => (err as { status?: number }).status !== 401 && n < 3,
  });
}

/** The signed-in session; only used below the layout, which shows nothing until it is known. */
export function useSession(): Session {
  const q = useSessionQuery();
  if (!q.data) throw new Error('useSession outside a signed-in page');
  return q.data;
}

export function useSignOut(): () => Promise<void> {
  const client = useQueryClient();
  const navigate = useNavigate();
  return useCallback(async () => {
    try {
      await api('/api/users/logout', { method: 'POST' });
    } finally {
      client.clear();
      void navigate('/sign-in', { replace: true });
    }
  }, [client, navigate]);
}
