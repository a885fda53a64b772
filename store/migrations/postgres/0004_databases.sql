-- One row per database (environment, team, name), so that a page of
-- databases is a walk along this table's key from a cursor, whatever the
-- number of databases and requests. The store rewrites a database's row
-- in the transaction of every write of its requests (refreshDatabase):
-- the columns are what store.Summarize reads from them.
CREATE TABLE databases (
    env          TEXT NOT NULL,
    team         TEXT NOT NULL,
    name         TEXT NOT NULL,
    newest_state TEXT NOT NULL,   -- the newest request's state, whatever it is
    existing     BOOLEAN NOT NULL,   -- Database.Exists: the newest request that counts is not a deletion
    live         BOOLEAN NOT NULL,   -- Database.Live is set: of the requests that reached ready or deleted, the newest reached ready
    PRIMARY KEY (env, team, name)
);

-- The databases stored so far, read as Summarize reads them. A request
-- counts unless cancelled, a draft, or failed in a way retrying cannot fix.
INSERT INTO databases (env, team, name, newest_state, existing, live)
SELECT r.env, r.team, r.name, r.state,
    EXISTS (SELECT 1 FROM requests c WHERE c.env = r.env AND c.team = r.team AND c.name = r.name AND c.state NOT IN ('cancelled', 'draft') AND NOT (c.state = 'failed' AND c.failure IS NOT NULL AND NOT COALESCE((c.failure ->> 'retryable')::boolean, false)) AND c.state <> 'deleted'
        AND NOT EXISTS (SELECT 1 FROM requests n WHERE n.env = c.env AND n.team = c.team AND n.name = c.name AND n.state NOT IN ('cancelled', 'draft') AND NOT (n.state = 'failed' AND n.failure IS NOT NULL AND NOT COALESCE((n.failure ->> 'retryable')::boolean, false)) AND (n.created_at > c.created_at OR (n.created_at = c.created_at AND n.id > c.id)))),
    EXISTS (SELECT 1 FROM requests c WHERE c.env = r.env AND c.team = r.team AND c.name = r.name AND c.state = 'ready'
        AND NOT EXISTS (SELECT 1 FROM requests n WHERE n.env = c.env AND n.team = c.team AND n.name = c.name AND n.state IN ('ready', 'deleted') AND (n.created_at > c.created_at OR (n.created_at = c.created_at AND n.id > c.id))))
FROM requests r
WHERE NOT EXISTS (SELECT 1 FROM requests n WHERE n.env = r.env AND n.team = r.team AND n.name = r.name AND (n.created_at > r.created_at OR (n.created_at = r.created_at AND n.id > r.id)));
