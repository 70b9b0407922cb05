// Settings: to be built (issue 10).
import { Page } from '../../components/ui';

export default function Settings() {
  return <Page title="Settings"><p className="muted">This page is being built.</p></Page>;
}
