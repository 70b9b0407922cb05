// Packages: to be built (issue 10).
import { Page } from '../../components/ui';

export default function Packages() {
  return <Page title="Packages"><p className="muted">This page is being built.</p></Page>;
}
