// Process: to be built (issue 10).
import { Page } from '../../components/ui';

export default function Process() {
  return <Page title="Process"><p className="muted">This page is being built.</p></Page>;
}
