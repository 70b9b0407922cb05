// Channels: to be built (issue 10).
import { Page } from '../../components/ui';

export default function Channels() {
  return <Page title="Channels"><p className="muted">This page is being built.</p></Page>;
}
