-- Audit events (design/deployments.md §4): every change and every deployment writes one, in the
-- transaction of the change, so the change and its event commit (or roll back) together.
-- `/api/events` reads them, newest first.

CREATE SEQUENCE events_seq;
CREATE TABLE events (
  -- `Events-<seq>`; `seq` orders events of one transaction (which share `occurred`).
  id                   text PRIMARY KEY,
  seq                  bigint NOT NULL UNIQUE,
  -- No foreign key: the events of a deleted space outlive it. Null for changes outside any space
  -- (users); a space's own create, modify and delete carry that space's id.
  space_id             text,
  category             text NOT NULL,
  message              text NOT NULL,
  -- Milliseconds, as the API shows them: an event's own Occurred given back as `to` still finds it.
  occurred             timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
  user_id              text NOT NULL,
  username             text NOT NULL,
  -- The node whose connection wrote the event (from the connection's application_name).
  node                 text,
  related_document_ids text[] NOT NULL DEFAULT '{}',
  project_id           text,
  environment_id       text,
  details              text,
  -- {before, after}: the document as it was and as it became (never a sensitive value).
  changes              jsonb
);
-- The list order, and the same order within a space, a category, a user, a project, an environment.
CREATE INDEX events_order ON events (occurred DESC, seq DESC);
CREATE INDEX events_space ON events (space_id, occurred DESC, seq DESC);
CREATE INDEX events_category ON events (category, occurred DESC);
CREATE INDEX events_user ON events (user_id, occurred DESC);
CREATE INDEX events_project ON events (project_id, occurred DESC) WHERE project_id IS NOT NULL;
CREATE INDEX events_environment ON events (environment_id, occurred DESC) WHERE environment_id IS NOT NULL;
-- `regarding`: the events whose related documents include one of the ids asked for.
CREATE INDEX events_related ON events USING gin (related_document_ids);
