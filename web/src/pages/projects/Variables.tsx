// Variables: to be built (issue 10).
import { Page } from '../../components/ui';

export default function Variables() {
  return <Page title="Variables"><p className="muted">This page is being built.</p></Page>;
}
