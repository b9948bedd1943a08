-- 018_refresh.sql -- "pipol image refresh" (issue 14 item 6): an image's
-- current version deployed on a free node, updated there, tested,
-- captured into a new draft, validated (and promoted) when every check
-- passed; otherwise the old current stays and the refresh says why.
--
-- A refresh is a state machine here, moved on by pipold's refresh
-- thread (refresh.c), so it survives a pipold restart:
--
--   deploy -> update-test -> capture -> validate [-> promote]
--
-- deploy and update-test are one run of a job (016) of the admin who
-- asked, kept (keep) so that the node stays theirs for the capture: the
-- run's command updates then tests, as root (the order says so for a
-- refresh's run only, job_order_fields). capture is a capture
-- deployment (api_capture.c) of the same node under the same
-- reservation; validate and promote are the store's, done by pipold.
-- Each step is a row of refresh_steps with its start, end, outcome and
-- reason. A refresh ends validated, promoted, kept (the update or the
-- test failed: the old current stays) or failed (a node, a capture or
-- the store failed); its reservation is released then.

CREATE TABLE refreshes (
	id		bigserial PRIMARY KEY,
	image		text NOT NULL CHECK (image ~ '^[a-z0-9][a-z0-9._-]{0,63}$'),
	from_version	integer NOT NULL CHECK (from_version >= 1),
	to_version	integer,
	user_id		bigint NOT NULL REFERENCES users,
	profile		text,
	update_cmd	text NOT NULL CHECK (length(update_cmd) BETWEEN 1 AND 4096),
	test_cmd	text NOT NULL CHECK (length(test_cmd) BETWEEN 1 AND 4096),
	promote		boolean NOT NULL DEFAULT false,
	scheduled	boolean NOT NULL DEFAULT false,
	job_id		bigint REFERENCES jobs,
	capture_id	bigint REFERENCES deployments,
	node		text,
	state		text NOT NULL DEFAULT 'running' CHECK (state IN
			    ('running', 'validated', 'promoted', 'kept', 'failed')),
	step		text NOT NULL DEFAULT 'deploy',
	reason		text,
	chunks		integer,	-- the new version's
	shared_chunks	integer,	-- of them, already in from_version
	created		timestamptz NOT NULL DEFAULT now(),
	ended		timestamptz
);
-- one refresh of an image at a time
CREATE UNIQUE INDEX refreshes_one ON refreshes (image) WHERE state = 'running';

CREATE TABLE refresh_steps (
	refresh_id	bigint NOT NULL REFERENCES refreshes ON DELETE CASCADE,
	step		text NOT NULL CHECK (step IN ('deploy', 'update-test',
			    'capture', 'validate', 'promote')),
	started		timestamptz NOT NULL DEFAULT now(),
	ended		timestamptz,
	outcome		text NOT NULL DEFAULT 'running' CHECK (outcome IN
			    ('running', 'ok', 'failed')),
	reason		text,
	PRIMARY KEY (refresh_id, step)
);

-- --schedule weekly: a refresh of the image at most every 7 days, with
-- the options of the refresh that set it (refresh.c fires it; cron,
-- schema 020, may take this over).
CREATE TABLE refresh_schedules (
	image		text PRIMARY KEY,
	user_id		bigint NOT NULL REFERENCES users,
	every		text NOT NULL CHECK (every = 'weekly'),
	profile		text,
	update_cmd	text NOT NULL,
	test_cmd	text NOT NULL,
	promote		boolean NOT NULL,
	last_at		timestamptz NOT NULL DEFAULT now()
);

-- The node's side of a refresh, run by the job hook as root: the update
-- command, then the test command, each through sh -c; 200 says the
-- update failed (so that a reason can name it), anything else is the
-- test's exit status.
CREATE FUNCTION refresh_argv(upd text, tst text) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
	SELECT jsonb_build_array('/bin/sh', '-c', 'sh -c "$1" || exit 200; '
	    'echo "pipol-refresh: update done"; exec sh -c "$2"',
	    'pipol-refresh', upd, tst)
$$;

-- A new refresh of img:fromv for usr (an admin: the API checks); its id.
CREATE FUNCTION refresh_submit(usr bigint, img text, fromv integer,
    prof text, upd text, tst text, prom boolean, sched boolean)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	jid bigint; rid bigint;
BEGIN
	IF EXISTS (SELECT 1 FROM refreshes WHERE image = img AND
	    state = 'running') THEN
		RAISE EXCEPTION 'image %: a refresh is already running', img
		    USING ERRCODE = 'PP409';
	END IF;
	jid := job_submit(usr, left('refresh-' || img, 64),
	    refresh_argv(upd, tst), ARRAY[img || ':' || fromv], 1, prof,
	    7200, true, NULL, NULL);
	INSERT INTO refreshes (image, from_version, user_id, profile,
	    update_cmd, test_cmd, promote, scheduled, job_id) VALUES (img,
	    fromv, usr, prof, upd, tst, prom, sched, jid) RETURNING id INTO rid;
	INSERT INTO refresh_steps (refresh_id, step) VALUES (rid, 'deploy');
	INSERT INTO events (actor, kind, detail) SELECT name, 'refresh.add',
	    jsonb_build_object('refresh', rid, 'image', img, 'version', fromv)
	    FROM users WHERE id = usr;
	RETURN rid;
END $$;

-- Step st of refresh rid ends with outcome (ok or failed) at t; the
-- next step, when given, starts at t.
CREATE FUNCTION refresh_step(rid bigint, st text, outcome text, why text,
    t timestamptz, next text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	UPDATE refresh_steps SET ended = t, outcome = refresh_step.outcome,
	    reason = why WHERE refresh_id = rid AND step = st;
	IF next IS NOT NULL THEN
		INSERT INTO refresh_steps (refresh_id, step, started)
		    VALUES (rid, next, t);
		UPDATE refreshes SET step = next WHERE id = rid;
	END IF;
END $$;

-- Refresh rid is over: its state and why; its job's reservation
-- released, its run cancelled when still open.
CREATE FUNCTION refresh_end(rid bigint, st text, why text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	f refreshes; res bigint;
BEGIN
	UPDATE refreshes SET state = st, reason = why, ended = now()
	    WHERE id = rid AND state = 'running' RETURNING * INTO f;
	IF NOT FOUND THEN
		RETURN;
	END IF;
	SELECT reservation_id INTO res FROM job_runs WHERE job_id = f.job_id;
	UPDATE job_runs SET state = 'cancelled', ended = now(), token_hash =
	    NULL, reason = 'refresh ' || rid || ' ' || st WHERE job_id =
	    f.job_id AND NOT job_run_over(state);
	IF NOT asap_cancel(f.user_id, res) AND EXISTS (SELECT 1 FROM
	    reservations WHERE id = res AND state = 'active') THEN
		PERFORM release(f.user_id, res);
	END IF;
	INSERT INTO events (actor, kind, detail) VALUES ('pipold',
	    'refresh.' || st, jsonb_build_object('refresh', rid, 'image',
	    f.image, 'version', f.to_version, 'reason', why));
END $$;

-- The store's steps passed (refresh.c): the new version has n chunks,
-- shared of them already in the old one; validated, promoted if prom;
-- the refresh over.
CREATE FUNCTION refresh_validated(rid bigint, n integer, shared integer,
    prom boolean) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	UPDATE refreshes SET chunks = n, shared_chunks = shared WHERE id = rid;
	PERFORM refresh_step(rid, 'validate', 'ok', NULL, now(),
	    CASE WHEN prom THEN 'promote' END);
	IF prom THEN
		PERFORM refresh_step(rid, 'promote', 'ok', NULL, now(), NULL);
	END IF;
	PERFORM refresh_end(rid, CASE WHEN prom THEN 'promoted' ELSE
	    'validated' END, NULL);
END $$;

-- One step of bookkeeping, idempotent, safe from several pipold: the
-- steps that follow the job run and the capture deployment moved on.
-- The number of refreshes changed. (refresh.c starts the capture and
-- does validate and promote, which need the store.)
CREATE FUNCTION refresh_sync() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
	f refreshes; jr job_runs; d deployments; n integer := 0;
BEGIN
	FOR f IN SELECT * FROM refreshes WHERE state = 'running' AND step IN
	    ('deploy', 'update-test', 'capture') ORDER BY id
	    FOR UPDATE SKIP LOCKED LOOP
		SELECT * INTO jr FROM job_runs WHERE job_id = f.job_id;
		IF f.step = 'deploy' AND jr.state IN ('running', 'exited') THEN
			UPDATE refreshes SET node = (SELECT name FROM nodes WHERE
			    id = jr.node_id) WHERE id = f.id;
			PERFORM refresh_step(f.id, 'deploy', 'ok', NULL,
			    coalesce(jr.started, now()), 'update-test');
			f.step := 'update-test';
			n := n + 1;
		ELSIF f.step = 'deploy' AND job_run_over(jr.state) THEN
			PERFORM refresh_step(f.id, 'deploy', 'failed', jr.reason,
			    now(), NULL);
			PERFORM refresh_end(f.id, 'failed', 'deploy: ' ||
			    coalesce(jr.reason, jr.state));
			n := n + 1;
			CONTINUE;
		END IF;
		IF f.step = 'update-test' AND jr.state = 'exited' AND
		    jr.exit_status = 0 THEN
			PERFORM refresh_step(f.id, 'update-test', 'ok', NULL,
			    jr.ended, 'capture');
			n := n + 1;
		ELSIF f.step = 'update-test' AND job_run_over(jr.state) THEN
			PERFORM refresh_step(f.id, 'update-test', 'failed',
			    CASE WHEN jr.state <> 'exited' THEN 'the run was ' ||
			    jr.state || coalesce(': ' || jr.reason, '') WHEN
			    jr.exit_status = 200 THEN 'the update command failed'
			    ELSE 'the test command exited ' || jr.exit_status END,
			    coalesce(jr.ended, now()), NULL);
			PERFORM refresh_end(f.id, 'kept', (SELECT reason FROM
			    refresh_steps WHERE refresh_id = f.id AND step =
			    'update-test') || '; version ' || f.from_version ||
			    ' stays current');
			n := n + 1;
		ELSIF f.step = 'capture' AND f.capture_id IS NOT NULL THEN
			SELECT * INTO d FROM deployments WHERE id = f.capture_id;
			IF d.state = 'ready' AND d.image_version IS NOT NULL THEN
				UPDATE refreshes SET to_version = d.image_version
				    WHERE id = f.id;
				PERFORM refresh_step(f.id, 'capture', 'ok', NULL,
				    d.updated, 'validate');
				n := n + 1;
			ELSIF d.state IN ('ready', 'failed') THEN
				PERFORM refresh_step(f.id, 'capture', 'failed',
				    coalesce(d.reason, 'no version made'), now(),
				    NULL);
				PERFORM refresh_end(f.id, 'failed', 'capture: ' ||
				    coalesce(d.reason, 'no version made'));
				n := n + 1;
			END IF;
		END IF;
	END LOOP;
	RETURN n;
END $$;

-- An image's refreshes, newest first, each with its steps (history).
CREATE FUNCTION refresh_history(img text, lim integer) RETURNS json
LANGUAGE sql STABLE AS $$
	SELECT coalesce(json_agg(x ORDER BY x.id DESC), '[]') FROM (SELECT
	    f.id, f.image, f.from_version, f.to_version, f.state, f.step,
	    f.reason, f.node, f.job_id AS job, f.promote, f.scheduled,
	    f.chunks, f.shared_chunks, f.created, f.ended, u.name AS "user",
	    extract(epoch FROM coalesce(f.ended, now()) - f.created)::bigint
	    AS seconds, (SELECT json_agg(json_build_object('step', s.step,
	    'outcome', s.outcome, 'reason', s.reason, 'started', s.started,
	    'ended', s.ended, 'seconds', extract(epoch FROM s.ended -
	    s.started)::bigint) ORDER BY s.started, s.step = 'promote')
	    FROM refresh_steps s WHERE s.refresh_id = f.id) AS steps
	    FROM refreshes f JOIN users u ON u.id = f.user_id WHERE f.image =
	    img ORDER BY f.id DESC LIMIT lim) x
$$;
