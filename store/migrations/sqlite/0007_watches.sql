-- One watch record per ready database (store.Watch): the health of its
-- cluster last seen, its drift from the reviewed code and the reconcile
-- asked for, each request.* as JSON (NULL when there is none). unhealthy
-- and drifted are derived from them by the store on every write, so that
-- ListWatches and CountWatches filter without reading the JSON.
CREATE TABLE watches (
    env        TEXT NOT NULL,
    team       TEXT NOT NULL,
    name       TEXT NOT NULL,
    request_id TEXT NOT NULL,
    health     TEXT,                -- request.Health
    drift      TEXT,                -- request.Drift
    reconcile  TEXT,                -- request.Reconcile
    unhealthy  INTEGER NOT NULL,    -- health recorded and not Healthy()
    drifted    INTEGER NOT NULL,    -- drift is not NULL
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (env, team, name)
) WITHOUT ROWID;

-- ListWatches with Unhealthy or Drifted walks these in key order: they
-- hold only the few records that match, whatever the number watched.
CREATE INDEX watches_unhealthy ON watches (env, team, name) WHERE unhealthy;
CREATE INDEX watches_drifted ON watches (env, team, name) WHERE drifted;
