// One layout for every signed-in page: Octopus's top navigation (Dashboard · Projects ·
// Infrastructure · Library · Tasks · Configuration), the space switcher at the left, the user at
// the right, and a banner when the server stops answering or the serving node changes.
import { useEffect, useState } from 'react';
import { Link, NavLink, Navigate, Outlet, useLocation, useNavigate, useParams } from 'react-router';
import { onHealth } from '../lib/api';
import { useSessionQuery, useSignOut } from '../lib/session';
import { rememberSpace, useSpaceId, useSpaces } from '../lib/space';
import { ErrorBox, Loading } from './ui';

function SpaceSwitcher() {
  const spaceId = useSpaceId();
  const spaces = useSpaces();
  const navigate = useNavigate();
  const items = spaces.data?.Items ?? [];
  return (
    <label className="space-switcher">
      <span className="visually-hidden">Space</span>
      <select
        value={spaceId}
        onChange={(e) => { rememberSpace(e.target.value); void navigate(`/${encodeURIComponent(e.target.value)}`); }}
        aria-label="Space"
      >
        {items.length === 0 ? <option value={spaceId}>{spaceId}</option> : null}
        {items.map((s) => <option key={s.Id} value={s.Id}>{s.Name}</option>)}
      </select>
    </label>
  );
}

/** Says when the server stops answering (the node died: the next request may reach another). */
function ConnectionBanner() {
  const [down, setDown] = useState(false);
  const [node, setNode] = useState<string | undefined>();
  useEffect(() => onHealth((h) => {
    setDown(!h.reachable);
    if (h.node) setNode(h.node);
  }), []);
  return (
    <>
      {down ? (
        <div className="banner banner-warn" role="status">
          The server is not answering (the node serving this page may have gone). Your page stays here; Cuttle keeps trying, through any node the load balancer picks.
        </div>
      ) : null}
      <span className="served-by" title="The node that answered the last request">{node ? `node ${node}` : ''}</span>
    </>
  );
}

export function Layout() {
  const session = useSessionQuery();
  const location = useLocation();
  const signOut = useSignOut();
  const spaceId = useSpaceId();
  const { spaceId: routeSpace } = useParams();
  const [menuOpen, setMenuOpen] = useState(false);

  useEffect(() => { if (routeSpace) rememberSpace(routeSpace); }, [routeSpace]);
  useEffect(() => { setMenuOpen(false); }, [location.pathname]);
  // A session that ends (signed out elsewhere, expired) sends the user to sign in, then back here.
  useEffect(() => onHealth((h) => { if (h.signedOut) void session.refetch(); }), [session]);

  if (session.isPending) return <div className="boot"><Loading what="Signing in" /></div>;
  if (session.error) {
    const status = (session.error as { status?: number }).status;
    if (status === 401) return <Navigate to={`/sign-in?next=${encodeURIComponent(location.pathname + location.search)}`} replace />;
    return <div className="boot"><ErrorBox error={session.error} title="Cuttle cannot load your session" /><button type="button" className="btn" onClick={() => void session.refetch()}>Try again</button></div>;
  }
  const s = encodeURIComponent(spaceId);
  const nav: [string, string][] = [
    [`/${s}`, 'Dashboard'],
    [`/${s}/projects`, 'Projects'],
    [`/${s}/infrastructure/environments`, 'Infrastructure'],
    [`/${s}/library/packages`, 'Library'],
    ['/tasks', 'Tasks'],
    ['/configuration', 'Configuration'],
  ];
  return (
    <div className="app">
      <a className="skip-link" href="#main">Skip to content</a>
      <header className="topbar">
        <Link to={`/${s}`} className="brand" aria-label="Cuttle, dashboard">
          <img src="/favicon.svg" alt="" width="24" height="24" /> <span>Cuttle</span>
        </Link>
        <SpaceSwitcher />
        <button type="button" className="btn btn-quiet menu-toggle" aria-expanded={menuOpen} aria-controls="main-nav" onClick={() => setMenuOpen((o) => !o)}>Menu</button>
        <nav id="main-nav" className={`main-nav${menuOpen ? ' open' : ''}`} aria-label="Main">
          {nav.map(([to, label]) => (
            <NavLink key={label} to={to} end={label === 'Dashboard'} className={({ isActive }) => (isActive || (label !== 'Dashboard' && location.pathname.startsWith(to)) ? 'active' : '')}>{label}</NavLink>
          ))}
        </nav>
        <div className="user-menu">
          <Link to="/configuration/profile" title="Your profile and API keys">{session.data.user.DisplayName || session.data.user.Username}</Link>
          <button type="button" className="btn btn-quiet" onClick={() => void signOut()}>Sign out</button>
        </div>
      </header>
      <ConnectionBanner />
      <main id="main" tabIndex={-1}>
        <Outlet />
      </main>
    </div>
  );
}

/** A sub-navigation at the side (a project's menu, Configuration's). */
export function SideNav({ items, label }: { items: [to: string, label: string][]; label: string }) {
  return (
    <nav className="side-nav" aria-label={label}>
      {items.map(([to, text]) => <NavLink key={to} to={to} end>{text}</NavLink>)}
    </nav>
  );
}
