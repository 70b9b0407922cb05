// Shared storage: to be built (issue 10).
import { Page } from '../../components/ui';

export default function Storage() {
  return <Page title="Shared storage"><p className="muted">This page is being built.</p></Page>;
}
