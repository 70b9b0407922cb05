// Nodes: to be built (issue 10).
import { Page } from '../../components/ui';

export default function Nodes() {
  return <Page title="Nodes"><p className="muted">This page is being built.</p></Page>;
}
