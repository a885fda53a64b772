-- The qualified name (request.QualifiedName: <name>.<team>.<env>) a
-- database's Terraform state and catalog entity are named by: a second
-- database may never take one that is in use (CreateRequest checks).
ALTER TABLE requests ADD COLUMN identity TEXT NOT NULL DEFAULT '';
UPDATE requests SET identity = name || '.' || team || '.' || env;
CREATE INDEX requests_identity ON requests (identity);
