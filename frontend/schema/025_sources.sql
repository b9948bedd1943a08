-- 025_sources.sql -- where a deployment's chunks came from (issue 17
-- item 1): a node of a rack asks its rack's caches before pipold, and
-- its agent's result says how many bytes each source gave and how many
-- chunks it moved past each (agent_api.c checks the list's form: at most
-- 8 entries of an http(s) URL and two counts). Kept for pipol status;
-- an agent's word, shown as such, never used to decide anything.

ALTER TABLE deployments ADD COLUMN sources jsonb;
