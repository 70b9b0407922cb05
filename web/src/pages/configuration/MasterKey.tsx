// Master key: to be built (issue 10).
import { Page } from '../../components/ui';

export default function MasterKey() {
  return <Page title="Master key"><p className="muted">This page is being built.</p></Page>;
}
