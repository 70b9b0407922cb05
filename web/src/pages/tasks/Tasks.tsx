// Tasks: to be built (issue 10).
import { Page } from '../../components/ui';

export default function Tasks() {
  return <Page title="Tasks"><p className="muted">This page is being built.</p></Page>;
}
