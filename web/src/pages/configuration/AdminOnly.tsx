import type { ReactNode } from 'react';
import { Page } from '../../components/ui';
import { useSession } from '../../lib/session';

/** What only administrators see; anyone else gets a sentence instead of an error. */
export function AdminOnly({ title, children }: { title: string; children: ReactNode }) {
  const s = useSession();
  if (!s.isAdmin) return <Page title={title}><p>Only administrators can see this page. Ask one if you need something here.</p></Page>;
  return <>{children}</>;
}
