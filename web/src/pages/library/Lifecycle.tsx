// Lifecycle: to be built (issue 10).
import { Page } from '../../components/ui';

export default function Lifecycle() {
  return <Page title="Lifecycle"><p className="muted">This page is being built.</p></Page>;
}
