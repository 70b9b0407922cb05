// Audit: to be built (issue 10).
import { Page } from '../../components/ui';

export default function Audit() {
  return <Page title="Audit"><p className="muted">This page is being built.</p></Page>;
}
