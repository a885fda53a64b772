-- Claim's indexes hold only the jobs it may take or must wait for, in the
-- order it takes them, so that claiming costs the same however many jobs
-- are queued: jobs_due (state, run_at) left ties on run_at to a sort of
-- every due job.
--
-- The oldest due queued job: the first entry of jobs_queued at or before now.
CREATE INDEX jobs_queued ON jobs (run_at, id) WHERE state = 'queued';
-- Running jobs whose lease expired (taken over), and those with a live
-- lease on a workspace (it is busy).
CREATE INDEX jobs_running ON jobs (lease_until) WHERE state = 'running';
CREATE INDEX jobs_workspace_running ON jobs (workspace, lease_until) WHERE state = 'running';
DROP INDEX jobs_due;
DROP INDEX jobs_lease;
DROP INDEX jobs_workspace;
