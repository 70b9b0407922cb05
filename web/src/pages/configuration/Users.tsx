// Users: to be built (issue 10).
import { Page } from '../../components/ui';

export default function Users() {
  return <Page title="Users"><p className="muted">This page is being built.</p></Page>;
}
