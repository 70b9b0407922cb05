// Configuration: Nodes first (the cluster, Cuttle's own), then users, the profile and its API keys,
// audit events, spaces, shared storage and the master key.
import { Outlet } from 'react-router';
import { SideNav } from '../../components/Layout';

export default function ConfigurationLayout() {
  return (
    <div className="with-side">
      <aside>
        <p className="side-title"><strong>Configuration</strong></p>
        <SideNav label="Configuration" items={[
          ['/configuration/nodes', 'Nodes'], ['/configuration/users', 'Users'], ['/configuration/profile', 'My profile & API keys'],
          ['/configuration/audit', 'Audit'], ['/configuration/spaces', 'Spaces'], ['/configuration/storage', 'Shared storage'], ['/configuration/masterkey', 'Master key'],
        ]} />
      </aside>
      <div className="with-side-main"><Outlet /></div>
    </div>
  );
}
