// Overview: to be built (issue 10).
import { Page } from '../../components/ui';

export default function Overview() {
  return <Page title="Overview"><p className="muted">This page is being built.</p></Page>;
}
