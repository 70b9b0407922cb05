// Deployments: to be built (issue 10).
import { Page } from '../../components/ui';

export default function Deployments() {
  return <Page title="Deployments"><p className="muted">This page is being built.</p></Page>;
}
