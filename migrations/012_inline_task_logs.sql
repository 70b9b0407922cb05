-- A task whose whole log is written at once when it ends (a Noop's one line, a task refused before
-- it did anything) keeps that log here, written by the statement that records its result, instead
-- of a folder and a file in the shared TaskLogs folder: creating them cost more than the rest of
-- such a task. Readers merge it with the files as the log of the task's last attempt.
ALTER TABLE server_tasks ADD COLUMN inline_log text;
