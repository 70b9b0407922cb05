// Create release: to be built (issue 10).
import { Page } from '../../components/ui';

export default function CreateRelease() {
  return <Page title="Create release"><p className="muted">This page is being built.</p></Page>;
}
