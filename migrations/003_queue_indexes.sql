-- Queries that stay fast as the queue and the history grow.

-- FIFO per concurrency tag: the claim's "no older queued task with this tag" check is one index probe
-- instead of a scan of every older queued row of the tag (quadratic once every deployment is tagged).
CREATE INDEX server_tasks_queued_tag ON server_tasks (concurrency_tag, seq)
  WHERE state = 'Queued' AND concurrency_tag IS NOT NULL;

-- Log retention reads only finished tasks whose logs still exist, oldest first.
DROP INDEX server_tasks_completed;
CREATE INDEX server_tasks_retention ON server_tasks (completed_time)
  WHERE completed_time IS NOT NULL AND NOT logs_deleted;
