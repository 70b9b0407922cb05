// The resource shapes the portal reads (Octopus's, PascalCase). Only the fields the pages use.

export type TaskState = 'Queued' | 'Executing' | 'Cancelling' | 'Success' | 'Failed' | 'Canceled' | 'TimedOut';

export interface User {
  Id: string;
  Username: string;
  DisplayName: string;
  EmailAddress: string | null;
  IsActive: boolean;
  IsService: boolean;
  IsRequestor?: boolean;
}

export interface Permissions {
  Id: string;
  IsAdministrator: boolean;
  SystemPermissions: string[];
}

export interface Space {
  Id: string;
  Name: string;
  Description?: string | null;
  IsDefault?: boolean;
  TaskQueueStopped: boolean;
}

export interface Task {
  Id: string;
  Name: string;
  Description: string;
  State: TaskState;
  SpaceId?: string | null;
  ServerNode: string | null;
  QueueTime: string;
  StartTime: string | null;
  CompletedTime: string | null;
  LastUpdatedTime?: string;
  ErrorMessage: string | null;
  Duration: string | null;
  IsCompleted: boolean;
  FinishedSuccessfully: boolean;
  CanRerun?: boolean;
  HasWarningsOrErrors?: boolean;
  Arguments?: Record<string, unknown>;
  Attempt?: number;
}

export interface ServerNode {
  Id: string;
  Name: string;
  Status?: string;
  LastSeen: string | null;
  MaxConcurrentTasks: number;
  IsInMaintenanceMode: boolean;
  IsOffline?: boolean;
  RunningTaskCount?: number;
  Rank?: string;
  Version?: string;
}

export interface Environment { Id: string; Name: string; Description?: string; SortOrder?: number; SpaceId: string }
export interface ProjectGroup { Id: string; Name: string; Description?: string; SpaceId: string }
export interface Phase {
  Id?: string;
  Name: string;
  AutomaticDeploymentTargets: string[];
  OptionalDeploymentTargets: string[];
  MinimumEnvironmentsBeforePromotion?: number;
  IsOptionalPhase?: boolean;
}
export interface Lifecycle { Id: string; Name: string; Description?: string; Phases: Phase[]; SpaceId: string }
export interface Project {
  Id: string;
  Name: string;
  Slug?: string;
  Description?: string;
  ProjectGroupId: string;
  LifecycleId: string;
  DeploymentProcessId: string;
  VariableSetId: string;
  IsDisabled?: boolean;
  ResumeDeploymentsOnNodeFailure?: boolean;
  SpaceId: string;
}
export interface Release { Id: string; Version: string; ProjectId: string; ChannelId: string; Assembled: string; ReleaseNotes?: string | null; SelectedPackages?: { ActionName: string; PackageReferenceName?: string; Version: string; PackageId?: string }[] }
export interface Deployment { Id: string; ReleaseId: string; EnvironmentId: string; ProjectId: string; TaskId: string; Created: string; Name?: string }
