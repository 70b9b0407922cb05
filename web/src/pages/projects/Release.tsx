// Release: to be built (issue 10).
import { Page } from '../../components/ui';

export default function Release() {
  return <Page title="Release"><p className="muted">This page is being built.</p></Page>;
}
