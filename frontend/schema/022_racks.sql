-- 022_racks.sql -- racks (issue 17 item 1): a group of nodes an admin
-- names, with the HTTP caches of the store near them (pipol cache
-- config), in the order the agent asks them for chunks before pipold.
-- The order gives a node its rack's caches as "sources" (agent_api.c);
-- a cache holds nothing pipol needs, so a rack is only a list of URLs.

CREATE TABLE racks (
	name	text PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,31}$'),
	caches	text[] NOT NULL DEFAULT '{}' CHECK (cardinality(caches) <= 7)
);
ALTER TABLE nodes ADD COLUMN rack text REFERENCES racks ON DELETE SET NULL;
