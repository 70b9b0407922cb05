import type { ReactNode } from 'react';
import { Page } from '../../components/ui';
import { useSession } from '../../lib/session';

/** What only administrators see; anyone else gets a sentence instead of an error. */
export function AdminOnly({ title, children, why }: { title: string; children: ReactNode; why?: ReactNode }) {
  const s = useSession();
  if (!s.isAdmin) return <Page title={title}><p>Only administrators can see this page. Ask one if you need something here.</p>{why ? <p className="muted">{why}</p> : null}</Page>;
  return <>{children}</>;
}
