// Deployment steps as the official client sends them, for tests that build processes through it.
import type { DeploymentStep } from '@octopusdeploy/api-client';

/** An inline Bash script step run on the server's built-in worker (`extra` overrides step fields). */
export function scriptStep(name: string, body: string, extra: Partial<DeploymentStep> = {}, runOnServer = 'true'): DeploymentStep {
  return {
    Id: '', Name: name, Condition: 'Success', StartTrigger: 'StartAfterPrevious', PackageRequirement: 'LetOctopusDecide', Properties: {},
    Actions: [{
      Id: '', Name: name, ActionType: 'Octopus.Script', IsDisabled: false, IsRequired: false, CanBeUsedForProjectVersioning: false,
      Environments: [], ExcludedEnvironments: [], Channels: [], TenantTags: [], Packages: [], Notes: null, WorkerPoolId: null, WorkerPoolVariable: null,
      Container: { Image: null, FeedId: null },
      Properties: { 'Octopus.Action.RunOnServer': runOnServer, 'Octopus.Action.Script.ScriptSource': 'Inline', 'Octopus.Action.Script.Syntax': 'Bash', 'Octopus.Action.Script.ScriptBody': body },
    }],
    ...extra,
  } as unknown as DeploymentStep;
}
