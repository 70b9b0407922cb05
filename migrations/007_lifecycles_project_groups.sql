-- Lifecycles and project groups (design/deployments.md §3–§4), stored as environments are: real
-- columns for what is queried or constrained, a jsonb document for the rest of the resource.

CREATE SEQUENCE lifecycles_seq;
CREATE TABLE lifecycles (
  id              text PRIMARY KEY,
  space_id        text NOT NULL REFERENCES spaces (id) ON DELETE CASCADE,
  name            text NOT NULL,
  -- Every environment the phases name, so deleting an environment finds the lifecycles using it.
  environment_ids text[] NOT NULL DEFAULT '{}',
  doc             jsonb NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX lifecycles_name ON lifecycles (space_id, lower(name));
CREATE INDEX lifecycles_environments ON lifecycles USING gin (environment_ids);

CREATE SEQUENCE project_groups_seq;
CREATE TABLE project_groups (
  id              text PRIMARY KEY,
  space_id        text NOT NULL REFERENCES spaces (id) ON DELETE CASCADE,
  name            text NOT NULL,
  environment_ids text[] NOT NULL DEFAULT '{}',
  doc             jsonb NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX project_groups_name ON project_groups (space_id, lower(name));
CREATE INDEX project_groups_environments ON project_groups USING gin (environment_ids);

-- Every space has a default lifecycle (no phases: every environment allowed) and a default project
-- group, so a client's `list({take: 1}).Items[0]` works in it. New spaces get them from the server
-- (deploy/spaces.ts); the spaces that exist already get them here, the default space first.
INSERT INTO lifecycles (id, space_id, name, doc)
SELECT 'Lifecycles-' || nextval('lifecycles_seq'), id, 'Default Lifecycle',
       '{"Description": "", "Phases": [],
         "ReleaseRetentionPolicy": {"Unit": "Days", "QuantityToKeep": 0, "ShouldKeepForever": true},
         "TentacleRetentionPolicy": {"Unit": "Days", "QuantityToKeep": 0, "ShouldKeepForever": true}}'
FROM (SELECT id FROM spaces ORDER BY is_default DESC, id) s;

INSERT INTO project_groups (id, space_id, name, doc)
SELECT 'ProjectGroups-' || nextval('project_groups_seq'), id, 'Default Project Group',
       '{"Description": "", "RetentionPolicyId": null}'
FROM (SELECT id FROM spaces ORDER BY is_default DESC, id) s;
