-- `/pg status <name>` finds a database by its name alone (the bot asks
-- which, when the name is in several environments or teams): an index
-- that starts with the name, so that it reads that name's requests only.
CREATE INDEX requests_name ON requests (name, created_at);
