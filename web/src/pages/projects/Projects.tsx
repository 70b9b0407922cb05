// Projects: to be built (issue 10).
import { Page } from '../../components/ui';

export default function Projects() {
  return <Page title="Projects"><p className="muted">This page is being built.</p></Page>;
}
