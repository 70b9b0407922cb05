// Lifecycles: to be built (issue 10).
import { Page } from '../../components/ui';

export default function Lifecycles() {
  return <Page title="Lifecycles"><p className="muted">This page is being built.</p></Page>;
}
