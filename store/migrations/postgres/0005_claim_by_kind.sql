-- Claim filters on the kinds the workers handle; without statistics (clustro
-- never runs ANALYZE) the planners took jobs_kind_state for that filter and
-- sorted every queued job of those kinds, so claims slowed as the queue
-- grew. Without it they read jobs_queued and jobs_running in Claim's order
-- and stop at the first runnable job. Nothing else needs the index.
DROP INDEX jobs_kind_state;
