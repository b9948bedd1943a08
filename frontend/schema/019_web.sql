-- 019_web.sql -- the web interface's sessions (frontend/web_session.c):
-- a user's API token traded for a session cookie. As for tokens, only
-- the SHA-256 of the cookie's secret is kept (its CSRF token is derived
-- from the secret: nothing more to keep). A session opens what the token
-- it came from opens, no longer than that token lives, until it expires
-- or its holder logs out (revoked).

CREATE TABLE web_sessions (
	id		bigserial PRIMARY KEY,
	hash		bytea NOT NULL UNIQUE CHECK (length(hash) = 32),
	token_id	bigint NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
	created		timestamptz NOT NULL DEFAULT now(),
	expires		timestamptz NOT NULL,
	revoked		timestamptz,
	CHECK (expires > created)
);
CREATE INDEX web_sessions_token ON web_sessions (token_id);

-- Sessions ended a day ago are of no use: the hourly tick drops them.
CREATE FUNCTION web_sessions_purge() RETURNS void LANGUAGE sql AS $$
	DELETE FROM web_sessions WHERE coalesce(revoked, expires)
	    < now() - interval '1 day'
$$;
