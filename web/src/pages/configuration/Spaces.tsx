// Spaces: to be built (issue 10).
import { Page } from '../../components/ui';

export default function Spaces() {
  return <Page title="Spaces"><p className="muted">This page is being built.</p></Page>;
}
