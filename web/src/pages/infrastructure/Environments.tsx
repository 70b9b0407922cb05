// Environments: to be built (issue 10).
import { Page } from '../../components/ui';

export default function Environments() {
  return <Page title="Environments"><p className="muted">This page is being built.</p></Page>;
}
