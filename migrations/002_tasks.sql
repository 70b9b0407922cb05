-- Server tasks: one queue for the whole cluster, claimed with FOR UPDATE SKIP LOCKED and fenced by a claim token.

CREATE SEQUENCE server_tasks_seq;

CREATE TABLE server_tasks (
  id                    text PRIMARY KEY,
  seq                   bigint NOT NULL UNIQUE,
  space_id              text NOT NULL DEFAULT 'Spaces-1',
  name                  text NOT NULL,
  description           text NOT NULL,
  arguments             jsonb NOT NULL DEFAULT '{}'::jsonb,
  state                 text NOT NULL DEFAULT 'Queued'
                        CHECK (state IN ('Queued', 'Executing', 'Cancelling', 'Success', 'Failed', 'Canceled', 'TimedOut')),
  queue_time            timestamptz NOT NULL DEFAULT now(),
  start_time            timestamptz,
  completed_time        timestamptz,
  last_updated          timestamptz NOT NULL DEFAULT now(),
  -- The node executing (or that last executed) the task, the epoch it was in, and the claim token
  -- that every later write of the owner must present: a node declared dead cannot write afterwards.
  server_node           text,
  node_epoch            integer,
  claim_token           uuid,
  attempt               integer NOT NULL DEFAULT 0,
  error_message         text,
  retry_on_node_failure boolean NOT NULL DEFAULT false,
  concurrency_tag       text,
  timeout_seconds       integer,
  has_warnings          boolean NOT NULL DEFAULT false,
  -- Set by the retention job once the task's log files and artifacts are deleted.
  logs_deleted          boolean NOT NULL DEFAULT false,
  created_by            text
);

CREATE INDEX server_tasks_queue ON server_tasks (seq) WHERE state = 'Queued';
CREATE INDEX server_tasks_active ON server_tasks (server_node) WHERE state IN ('Executing', 'Cancelling');
CREATE INDEX server_tasks_completed ON server_tasks (completed_time) WHERE completed_time IS NOT NULL;
-- One task per concurrency tag at a time, enforced by the database rather than by the claimers.
CREATE UNIQUE INDEX server_tasks_one_per_tag ON server_tasks (concurrency_tag)
  WHERE concurrency_tag IS NOT NULL AND state IN ('Executing', 'Cancelling');

CREATE SEQUENCE artifacts_seq;
CREATE TABLE artifacts (
  id         text PRIMARY KEY,
  space_id   text NOT NULL DEFAULT 'Spaces-1',
  task_id    text NOT NULL REFERENCES server_tasks(id) ON DELETE CASCADE,
  filename   text NOT NULL,
  -- Relative to the shared Artifacts folder.
  rel_path   text NOT NULL,
  length     bigint NOT NULL,
  created    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX artifacts_task ON artifacts (task_id);

-- Cluster-wide jobs: a row per job; the node that holds the row lock runs it, one node at a time.
CREATE TABLE scheduled_jobs (
  name      text PRIMARY KEY,
  next_run  timestamptz NOT NULL DEFAULT now(),
  last_run  timestamptz,
  last_node text,
  last_result text
);
