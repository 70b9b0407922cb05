import type { FastifyInstance } from 'fastify';
import { API_VERSION, OCTOPUS_VERSION, VERSION } from '../../version.js';
import type { ApiContext } from '../context.js';

export function rootRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get('/api', () => ({
    Application: 'Cuttle',
    // The Octopus Server version whose API Cuttle implements (see version.ts); Cuttle's own is CuttleVersion.
    Version: OCTOPUS_VERSION,
    CuttleVersion: VERSION,
    ApiVersion: API_VERSION,
    InstallationId: ctx.installationId,
    Links: {
      Self: '/api',
      CurrentUser: '/api/users/me',
      SignIn: '/api/users/login',
      SignOut: '/api/users/logout',
      Users: '/api/users{/id}{?skip,take,ids,filter}',
      OctopusServerNodes: '/api/octopusservernodes{/id}{?skip,take,ids,partialName}',
      OctopusServerClusterSummary: '/api/octopusservernodes/summary',
      Tasks: '/api/tasks{/id}{?skip,take,ids,partialName,states,node,name,spaces}',
      Spaces: '/api/spaces{/id}{?skip,take,ids,partialName}',
      SpaceHome: '/api/{spaceId}',
      Environments: '/api/{spaceId}/environments{/id}{?skip,take,ids,partialName}',
      Lifecycles: '/api/{spaceId}/lifecycles{/id}{?skip,take,ids,partialName}',
      ProjectGroups: '/api/{spaceId}/projectgroups{/id}{?skip,take,ids,partialName}',
      Capabilities: '/api/capabilities',
      Web: '/app',
    },
  }));

  // What `checkForCapability` of the official client asks; only names Cuttle really serves.
  app.get('/api/capabilities', () => ({ Capabilities: CAPABILITIES }));
}

export const CAPABILITIES: readonly string[] = Object.freeze(['GetAllSpacesRequest']);
