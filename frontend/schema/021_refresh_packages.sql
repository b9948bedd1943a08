-- 021_refresh_packages.sql -- a refresh says what its update changed in
-- the image's packages (issue 14 item 6): the new version's packages,
-- read from its dpkg database at validation (imagestore/packages.c),
-- compared with the old version's by Debian's version order (newer,
-- new, gone, older, the same), one line kept with the refresh and shown
-- as the validate step's outcome in pipol image history.

ALTER TABLE refreshes ADD COLUMN packages text;

DROP FUNCTION refresh_validated(bigint, integer, integer, boolean);
CREATE FUNCTION refresh_validated(rid bigint, n integer, shared integer,
    prom boolean, pkgs text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	UPDATE refreshes SET chunks = n, shared_chunks = shared,
	    packages = nullif(pkgs, '') WHERE id = rid;
	PERFORM refresh_step(rid, 'validate', 'ok', nullif(pkgs, ''), now(),
	    CASE WHEN prom THEN 'promote' END);
	IF prom THEN
		PERFORM refresh_step(rid, 'promote', 'ok', NULL, now(), NULL);
	END IF;
	PERFORM refresh_end(rid, CASE WHEN prom THEN 'promoted' ELSE
	    'validated' END, NULL);
END $$;

CREATE OR REPLACE FUNCTION refresh_history(img text, lim integer)
RETURNS json LANGUAGE sql STABLE AS $$
	SELECT coalesce(json_agg(x ORDER BY x.id DESC), '[]') FROM (SELECT
	    f.id, f.image, f.from_version, f.to_version, f.state, f.step,
	    f.reason, f.node, f.job_id AS job, f.promote, f.scheduled,
	    f.chunks, f.shared_chunks, f.packages, f.created, f.ended,
	    u.name AS "user", extract(epoch FROM coalesce(f.ended, now()) -
	    f.created)::bigint AS seconds, (SELECT json_agg(json_build_object(
	    'step', s.step, 'outcome', s.outcome, 'reason', s.reason,
	    'started', s.started, 'ended', s.ended, 'seconds', extract(epoch
	    FROM s.ended - s.started)::bigint) ORDER BY s.started, s.step =
	    'promote') FROM refresh_steps s WHERE s.refresh_id = f.id) AS steps
	    FROM refreshes f JOIN users u ON u.id = f.user_id WHERE f.image =
	    img ORDER BY f.id DESC LIMIT lim) x
$$;
