-- Spaces and environments: the first of the deployment resources (design/deployments.md §3).
-- Each kind has real columns for what is queried or constrained (id, space, name) and a jsonb
-- document for the rest of the Octopus resource, which PUT replaces whole.

CREATE SEQUENCE spaces_seq START 2; -- Spaces-1 is the default space, inserted below
CREATE TABLE spaces (
  id                 text PRIMARY KEY,
  name               text NOT NULL,
  is_default         boolean NOT NULL DEFAULT false,
  task_queue_stopped boolean NOT NULL DEFAULT false,
  doc                jsonb NOT NULL DEFAULT '{}'
);
-- Names are unique case-insensitively, as in Octopus.
CREATE UNIQUE INDEX spaces_name ON spaces (lower(name));

-- Tasks already carry space_id 'Spaces-1' (migration 002); the default space always exists.
INSERT INTO spaces (id, name, is_default, doc)
VALUES ('Spaces-1', 'Default', true, '{"Slug": "default", "Description": "", "SpaceManagersTeams": [], "SpaceManagersTeamMembers": []}');

CREATE SEQUENCE environments_seq;
CREATE TABLE environments (
  id         text PRIMARY KEY,
  -- A space's resources go with it; a space is deleted only once its task queue is stopped.
  space_id   text NOT NULL REFERENCES spaces (id) ON DELETE CASCADE,
  name       text NOT NULL,
  sort_order integer NOT NULL DEFAULT 0,
  doc        jsonb NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX environments_name ON environments (space_id, lower(name));
