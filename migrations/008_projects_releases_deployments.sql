-- Projects, channels, deployment processes, variable sets, releases and deployments
-- (design/deployments.md §3–§5). As before: real columns for what is queried, joined or
-- constrained, a jsonb document for the rest of the Octopus resource.

CREATE SEQUENCE projects_seq;
CREATE TABLE projects (
  id               text PRIMARY KEY,
  space_id         text NOT NULL REFERENCES spaces (id) ON DELETE CASCADE,
  name             text NOT NULL,
  -- No cascade: a project group or lifecycle in use cannot go (the kinds say so in a sentence first).
  project_group_id text NOT NULL REFERENCES project_groups (id),
  lifecycle_id     text NOT NULL REFERENCES lifecycles (id),
  doc              jsonb NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX projects_name ON projects (space_id, lower(name));
CREATE INDEX projects_project_group ON projects (project_group_id);
CREATE INDEX projects_lifecycle ON projects (lifecycle_id);

CREATE SEQUENCE channels_seq;
CREATE TABLE channels (
  id           text PRIMARY KEY,
  space_id     text NOT NULL REFERENCES spaces (id) ON DELETE CASCADE,
  name         text NOT NULL,
  project_id   text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  -- Null: the project's lifecycle.
  lifecycle_id text REFERENCES lifecycles (id),
  is_default   boolean NOT NULL DEFAULT false,
  doc          jsonb NOT NULL DEFAULT '{}'
);
-- Channel names are unique within their project, as in Octopus; one default channel per project.
CREATE UNIQUE INDEX channels_name ON channels (project_id, lower(name));
CREATE UNIQUE INDEX channels_default ON channels (project_id) WHERE is_default;
CREATE INDEX channels_space ON channels (space_id);
CREATE INDEX channels_lifecycle ON channels (lifecycle_id);

-- One process per project (Octopus: `deploymentprocess-Projects-1`); `version` is its optimistic
-- concurrency token (a PUT with a stale Version is refused).
CREATE TABLE deployment_processes (
  id         text PRIMARY KEY,
  space_id   text NOT NULL REFERENCES spaces (id) ON DELETE CASCADE,
  project_id text NOT NULL UNIQUE REFERENCES projects (id) ON DELETE CASCADE,
  version    integer NOT NULL DEFAULT 0,
  steps      jsonb NOT NULL DEFAULT '[]'
);

-- One variable set per project (Octopus: `variableset-Projects-1`). Sensitive values are sealed with
-- the master key inside `variables` (never plaintext); `Value` is null for them.
CREATE TABLE variable_sets (
  id         text PRIMARY KEY,
  space_id   text NOT NULL REFERENCES spaces (id) ON DELETE CASCADE,
  owner_id   text NOT NULL UNIQUE REFERENCES projects (id) ON DELETE CASCADE,
  version    integer NOT NULL DEFAULT 0,
  variables  jsonb NOT NULL DEFAULT '[]'
);

-- A release freezes the process and the variables as they were (later edits never change it).
CREATE SEQUENCE releases_seq;
CREATE TABLE releases (
  id                 text PRIMARY KEY,
  space_id           text NOT NULL REFERENCES spaces (id) ON DELETE CASCADE,
  project_id         text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  channel_id         text NOT NULL REFERENCES channels (id),
  version            text NOT NULL,
  assembled          timestamptz NOT NULL DEFAULT now(),
  doc                jsonb NOT NULL DEFAULT '{}',
  process_snapshot   jsonb NOT NULL,
  variables_snapshot jsonb NOT NULL
);
CREATE UNIQUE INDEX releases_version ON releases (project_id, lower(version));
CREATE INDEX releases_space ON releases (space_id, assembled DESC);
CREATE INDEX releases_channel ON releases (channel_id);

-- A deployment is one `Deploy` task: its state is the task's (joined, never copied).
CREATE SEQUENCE deployments_seq;
CREATE TABLE deployments (
  id             text PRIMARY KEY,
  space_id       text NOT NULL REFERENCES spaces (id) ON DELETE CASCADE,
  project_id     text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  release_id     text NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
  channel_id     text NOT NULL,
  -- No cascade: an environment that has deployments is in use.
  environment_id text NOT NULL REFERENCES environments (id),
  task_id        text NOT NULL UNIQUE,
  created        timestamptz NOT NULL DEFAULT now(),
  doc            jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX deployments_space ON deployments (space_id, created DESC, id DESC);
CREATE INDEX deployments_release_environment ON deployments (release_id, environment_id);
CREATE INDEX deployments_project_environment ON deployments (project_id, environment_id, created DESC);
CREATE INDEX deployments_environment ON deployments (environment_id);

-- What each action of a deployment did, written (fenced by the task's claim token) as it starts and
-- ends: a deployment resumed on another node skips what succeeded and restores its outputs.
-- Sensitive output values are sealed with the master key.
CREATE TABLE deployment_actions (
  deployment_id text NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
  action_id     text NOT NULL,
  step_index    integer NOT NULL,
  status        text NOT NULL,
  node          text NOT NULL,
  attempt       integer NOT NULL,
  started       timestamptz NOT NULL DEFAULT now(),
  ended         timestamptz,
  outputs       jsonb NOT NULL DEFAULT '[]',
  PRIMARY KEY (deployment_id, action_id)
);
