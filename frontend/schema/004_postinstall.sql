-- 004_postinstall.sql -- what the agent runs in a deployed system.
--
-- scripts: the site's modular post-install scripts (kind 'postinstall',
-- no owner, admin-managed) and each user's run commands (kind 'rc',
-- owned). PIPOL's naming rule, for both: NAME or NAME.FILTER, where the
-- part after the first '.' names a part of the image's name; the agent
-- runs, in name order, the scripts without a filter and those whose
-- filter matches (common/parse.c, script_matches). A user's rc names begin with "rc".
--
-- deployment_logs: one row per script run, its exit status and the
-- tail of its output, sent by the agent (POST /agent/log).

CREATE TABLE scripts (
	id		bigserial PRIMARY KEY,
	kind		text NOT NULL CHECK (kind IN ('postinstall', 'rc')),
	owner_id	bigint REFERENCES users ON DELETE CASCADE,
	name		text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
	body		bytea NOT NULL CHECK (length(body) <= 49152),
	updated		timestamptz NOT NULL DEFAULT now(),
	CHECK ((kind = 'rc') = (owner_id IS NOT NULL)),
	CHECK (kind <> 'rc' OR name ~ '^rc')
);
CREATE UNIQUE INDEX scripts_name ON scripts (kind, coalesce(owner_id, 0), name);

CREATE TABLE deployment_logs (
	deployment_id	bigint NOT NULL REFERENCES deployments ON DELETE CASCADE,
	seq		serial,
	script		text NOT NULL,
	status		integer NOT NULL,
	output		text NOT NULL,
	at		timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX deployment_logs_dep ON deployment_logs (deployment_id, seq);
