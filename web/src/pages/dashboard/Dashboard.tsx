// Dashboard: to be built (issue 10).
import { Page } from '../../components/ui';

export default function Dashboard() {
  return <Page title="Dashboard"><p className="muted">This page is being built.</p></Page>;
}
