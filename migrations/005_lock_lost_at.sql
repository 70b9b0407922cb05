-- When the recovery job first saw a node's advisory lock gone (NULL while it is held). A vanished
-- lock counts as the node's death only some time after it was first seen gone, so a node whose
-- connection alone died has that long to stop its scripts before its tasks run elsewhere.
ALTER TABLE nodes ADD COLUMN lock_lost_at timestamptz;
