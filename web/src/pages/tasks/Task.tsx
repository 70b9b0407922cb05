// Task: to be built (issue 10).
import { Page } from '../../components/ui';

export default function Task() {
  return <Page title="Task"><p className="muted">This page is being built.</p></Page>;
}
