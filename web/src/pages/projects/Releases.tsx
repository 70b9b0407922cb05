// Releases: to be built (issue 10).
import { Page } from '../../components/ui';

export default function Releases() {
  return <Page title="Releases"><p className="muted">This page is being built.</p></Page>;
}
