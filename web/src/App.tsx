// The portal's routes. Paths are the portal's own (the server answers any path outside /api with
// this app, so every one survives a reload): /:spaceId/... for what lives in a space, /tasks and
// /configuration for what is cluster-wide.
import { Navigate, createBrowserRouter, useRouteError } from 'react-router';
import { Layout } from './components/Layout';
import { ErrorBox, Page } from './components/ui';
import { lastSpace } from './lib/space';
import SignIn from './pages/SignIn';
import Dashboard from './pages/dashboard/Dashboard';
import Projects from './pages/projects/Projects';
import ProjectLayout from './pages/projects/ProjectLayout';
import Overview from './pages/projects/Overview';
import Process from './pages/projects/Process';
import Variables from './pages/projects/Variables';
import Channels from './pages/projects/Channels';
import Releases from './pages/projects/Releases';
import Release from './pages/projects/Release';
import CreateRelease from './pages/projects/CreateRelease';
import Deployments from './pages/projects/Deployments';
import Settings from './pages/projects/Settings';
import Environments from './pages/infrastructure/Environments';
import LibraryLayout from './pages/library/LibraryLayout';
import Packages from './pages/library/Packages';
import Lifecycles from './pages/library/Lifecycles';
import Lifecycle from './pages/library/Lifecycle';
import Tasks from './pages/tasks/Tasks';
import Task from './pages/tasks/Task';
import ConfigurationLayout from './pages/configuration/ConfigurationLayout';
import Nodes from './pages/configuration/Nodes';
import Users from './pages/configuration/Users';
import Profile from './pages/configuration/Profile';
import Audit from './pages/configuration/Audit';
import Spaces from './pages/configuration/Spaces';
import Storage from './pages/configuration/Storage';
import MasterKey from './pages/configuration/MasterKey';

/** A page that threw: words and a way on, never a blank screen. */
function RouteError() {
  const error = useRouteError();
  return (
    <Page title="Something went wrong on this page">
      <ErrorBox error={error} />
      <p><a href="/">Go to the dashboard</a> or reload the page.</p>
    </Page>
  );
}

function NotFound() {
  return <Page title="There is no such page"><p>Nothing lives at this address. Use the navigation above, or <a href="/">go to the dashboard</a>.</p></Page>;
}

export const router = createBrowserRouter([
  { path: '/sign-in', element: <SignIn /> },
  {
    element: <Layout />,
    errorElement: <RouteError />,
    children: [
      { errorElement: <RouteError />, children: [
        { index: true, element: <Navigate to={`/${encodeURIComponent(lastSpace())}`} replace /> },
        { path: 'tasks', element: <Tasks /> },
        { path: 'tasks/:taskId', element: <Task /> },
        {
          path: 'configuration', element: <ConfigurationLayout />, children: [
            { index: true, element: <Navigate to="/configuration/nodes" replace /> },
            { path: 'nodes', element: <Nodes /> },
            { path: 'users', element: <Users /> },
            { path: 'profile', element: <Profile /> },
            { path: 'audit', element: <Audit /> },
            { path: 'spaces', element: <Spaces /> },
            { path: 'storage', element: <Storage /> },
            { path: 'masterkey', element: <MasterKey /> },
          ],
        },
        { path: ':spaceId', element: <Dashboard /> },
        { path: ':spaceId/projects', element: <Projects /> },
        {
          path: ':spaceId/projects/:projectId', element: <ProjectLayout />, children: [
            { index: true, element: <Overview /> },
            { path: 'process', element: <Process /> },
            { path: 'variables', element: <Variables /> },
            { path: 'channels', element: <Channels /> },
            { path: 'releases', element: <Releases /> },
            { path: 'releases/create', element: <CreateRelease /> },
            { path: 'releases/:releaseId', element: <Release /> },
            { path: 'deployments', element: <Deployments /> },
            { path: 'settings', element: <Settings /> },
          ],
        },
        { path: ':spaceId/infrastructure', element: <Navigate to="environments" replace /> },
        { path: ':spaceId/infrastructure/environments', element: <Environments /> },
        {
          path: ':spaceId/library', element: <LibraryLayout />, children: [
            { index: true, element: <Navigate to="packages" replace /> },
            { path: 'packages', element: <Packages /> },
            { path: 'lifecycles', element: <Lifecycles /> },
            { path: 'lifecycles/:lifecycleId', element: <Lifecycle /> },
          ],
        },
        { path: '*', element: <NotFound /> },
      ] },
    ],
  },
]);
