// Library: the built-in package feed and lifecycles.
import { Outlet, useParams } from 'react-router';
import { SideNav } from '../../components/Layout';

export default function LibraryLayout() {
  const { spaceId = 'Spaces-1' } = useParams();
  const s = `/${encodeURIComponent(spaceId)}/library`;
  return (
    <div className="with-side">
      <aside>
        <p className="side-title"><strong>Library</strong></p>
        <SideNav label="Library" items={[[`${s}/packages`, 'Packages'], [`${s}/lifecycles`, 'Lifecycles']]} />
      </aside>
      <div className="with-side-main"><Outlet /></div>
    </div>
  );
}
