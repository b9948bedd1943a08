-- 008_tokens.sql -- users' API tokens that end: each has a short public
-- id (what lists show and what revoke and rotate name; the secret is
-- never kept, only its SHA-256, as in 001), a name, an expiry (NULL:
-- never, only when pipold runs with --token-days 0, or for the tokens
-- made before this migration), when it was last used (written at most
-- once a minute, so that a lookup stays one read) and when it was
-- revoked. Errors as in 002: PP404 not yours or no such token, PP409
-- already revoked or expired.

ALTER TABLE tokens ADD COLUMN id bigserial UNIQUE;
ALTER TABLE tokens ADD COLUMN name text NOT NULL DEFAULT ''
	CHECK (name ~ '^[A-Za-z0-9._@:+ -]{0,64}$');
ALTER TABLE tokens ADD COLUMN expires timestamptz;
ALTER TABLE tokens ADD COLUMN last_used timestamptz;
ALTER TABLE tokens ADD COLUMN revoked timestamptz;
CREATE INDEX tokens_user ON tokens (user_id, id);

-- A token's state now: live, expired or revoked.
CREATE FUNCTION token_state(t tokens) RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT CASE WHEN t.revoked IS NOT NULL THEN 'revoked'
	    WHEN t.expires IS NOT NULL AND t.expires <= now() THEN 'expired'
	    ELSE 'live' END
$$;

-- Token tid of user uid, locked; PP404 when it is not theirs (whether
-- or not it exists: nobody learns of another user's tokens), PP409
-- when it no longer opens anything.
CREATE FUNCTION token_mine(tid bigint, uid bigint) RETURNS tokens
LANGUAGE plpgsql AS $$
DECLARE
	t tokens;
BEGIN
	SELECT * INTO t FROM tokens WHERE id = tid AND user_id = uid
	    FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'token %: no such token', tid
		    USING ERRCODE = 'PP404';
	END IF;
	IF token_state(t) <> 'live' THEN
		RAISE EXCEPTION 'token %: already %', tid, token_state(t)
		    USING ERRCODE = 'PP409';
	END IF;
	RETURN t;
END $$;

-- Revoke token tid of user uid.
CREATE FUNCTION token_revoke(tid bigint, uid bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM token_mine(tid, uid);
	UPDATE tokens SET revoked = now() WHERE id = tid;
END $$;

-- Rotate token tid of user uid: a new token (newhash) of the same name
-- and lifetime (no longer than maxdays, 0: no limit), the old one
-- revoked, in the caller's transaction. Returns the new token.
CREATE FUNCTION token_rotate(tid bigint, uid bigint, newhash bytea,
    maxdays integer) RETURNS tokens LANGUAGE plpgsql AS $$
DECLARE
	t tokens;
	life interval;
BEGIN
	t := token_mine(tid, uid);
	life := t.expires - t.created;
	IF maxdays > 0 AND (life IS NULL OR life > maxdays * interval '1 day')
	THEN
		life := maxdays * interval '1 day';
	END IF;
	UPDATE tokens SET revoked = now() WHERE id = tid;
	INSERT INTO tokens (hash, user_id, name, expires)
	    VALUES (newhash, uid, t.name, now() + life) RETURNING * INTO t;
	RETURN t;
END $$;

-- The tokens expired or revoked more than 30 days ago are dropped
-- (pipold's tick, hourly); until then a list shows them, and a request
-- with one is told when it ended. Returns how many went.
CREATE FUNCTION tokens_purge() RETURNS integer LANGUAGE sql AS $$
	WITH gone AS (DELETE FROM tokens WHERE
	    revoked < now() - interval '30 days' OR
	    expires < now() - interval '30 days' RETURNING 1)
	SELECT count(*)::integer FROM gone
$$;
