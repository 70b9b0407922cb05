-- The claim as a function, so that its plan never depends on the table's statistics. Planned from
-- statistics, the candidates' scan turned into a bitmap scan of every queued row and a sort
-- whenever they were stale (a burst queued after the table was emptied, before autoanalyze): 1 ms
-- and the whole queue read per claim instead of 0.1 ms and the first few index entries. With
-- sequential and bitmap scans off, the only plan left walks server_tasks_queue in seq order and
-- stops at the LIMIT; being the only plan, it is cached (generic) and not planned again each call.
CREATE FUNCTION cuttle_claim_tasks(p_node text, p_epoch integer, p_limit integer, p_running integer)
RETURNS SETOF server_tasks
LANGUAGE plpgsql
SET enable_seqscan = off
SET enable_bitmapscan = off
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
  RETURN QUERY
  WITH free AS (
    -- The node's task cap and drain as the database has them now, so a change made through any
    -- node binds the very next claim; a node that was superseded (new epoch) claims nothing.
    -- p_running is what the node runs (only its own process claims for it, under its advisory lock).
    SELECT greatest(0, least(p_limit, CASE WHEN n.drain THEN 0 ELSE n.max_concurrent_tasks END - p_running))::int AS n
    FROM nodes n WHERE n.id = p_node AND n.epoch = p_epoch AND n.stopped_at IS NULL)
  UPDATE server_tasks t
  SET state = 'Executing', server_node = p_node, node_epoch = p_epoch, claim_token = gen_random_uuid(),
      start_time = now(), attempt = t.attempt + 1, last_updated = now(), error_message = NULL
  -- The candidates are collected into an array first (an InitPlan), so the update finds each row by
  -- its primary key: joined as a relation, the planner cannot see the LIMIT.
  WHERE t.id = ANY (ARRAY(
    SELECT q.id FROM server_tasks q
    WHERE q.state = 'Queued'
      -- A space whose task queue is stopped keeps its tasks queued (one InitPlan, not a probe per row).
      AND q.space_id <> ALL (ARRAY(SELECT s.id FROM spaces s WHERE s.task_queue_stopped))
      -- A tagged task waits while its tag runs, and behind older queued tasks of its tag (FIFO per
      -- tag); both checks are index probes (server_tasks_one_per_tag, server_tasks_queued_tag).
      AND (q.concurrency_tag IS NULL OR (
        NOT EXISTS (SELECT 1 FROM server_tasks a WHERE a.concurrency_tag = q.concurrency_tag AND a.state IN ('Executing', 'Cancelling'))
        AND NOT EXISTS (SELECT 1 FROM server_tasks o WHERE o.concurrency_tag = q.concurrency_tag AND o.state = 'Queued' AND o.seq < q.seq)))
    ORDER BY q.seq
    LIMIT coalesce((SELECT f.n FROM free f), 0)
    FOR UPDATE SKIP LOCKED))
  -- No t.state = 'Queued' here: the rows were locked as Queued (a row changed before its lock is
  -- re-checked then), and the lock holds until this commits.
  RETURNING t.*;
END
$$;
