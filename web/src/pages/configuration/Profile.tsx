// My profile: to be built (issue 10).
import { Page } from '../../components/ui';

export default function Profile() {
  return <Page title="My profile"><p className="muted">This page is being built.</p></Page>;
}
