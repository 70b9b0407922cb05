import { useQuery } from '@tanstack/react-query';
import { api, qs, type Collection } from '../../lib/api';
import { spacePath } from '../../lib/space';
import type { Deployment, Task } from '../../lib/types';

/** The space's name: the release and deployment commands take names, as the official client sends them. */
export function useSpaceName(spaceId: string) {
  return useQuery({ queryKey: ['space', spaceId], queryFn: () => api<{ Name: string }>(`/api/spaces/${encodeURIComponent(spaceId)}`), staleTime: 60_000 });
}

/** Deployments with their tasks' states, for history tables. */
export function useDeploymentsWithTasks(spaceId: string, params: Record<string, string | number | undefined>, key: unknown[]) {
  return useQuery({
    queryKey: ['deployments', spaceId, ...key],
    queryFn: async () => {
      const deployments = await api<Collection<Deployment>>(spacePath(spaceId, `deployments${qs(params)}`));
      const ids = deployments.Items.map((d) => d.TaskId);
      const tasks = ids.length ? await api<Collection<Task>>(`/api/tasks${qs({ ids, take: ids.length })}`) : { Items: [] as Task[] };
      const byId = new Map(tasks.Items.map((t) => [t.Id, t]));
      return { ...deployments, Items: deployments.Items.map((d) => ({ deployment: d, task: byId.get(d.TaskId) })) };
    },
    refetchInterval: 3000,
  });
}
