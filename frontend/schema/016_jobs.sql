-- 016_jobs.sql -- "pipol sub": a user's command run on freshly
-- deployed nodes, as the user. A job asks for n nodes of each of its
-- images: one asap request (015) per image, so each image's nodes are
-- one reservation. Its runs (one per node) follow their node:
--
--   waiting -> deploying -> running -> exited
--           \-> deploy_failed   \-> lost (the reservation ended first)
--   (any of the first three) -> cancelled
--
-- pipold's job thread (jobs.c) deploys the nodes of a placed request
-- through the user's own deployment path, then calls job_sync() each
-- turn, which moves runs and jobs on from what the deployments and
-- reservations say and releases a job's reservation once its runs are
-- over (unless keep). The node's job hook speaks with a job-run token
-- (minted at the order, only its SHA-256 kept, bound to the address
-- that fetched the order), which opens that run only, until its
-- result is posted or the run is over.

CREATE TABLE jobs (
	id		bigserial PRIMARY KEY,
	user_id		bigint NOT NULL REFERENCES users,
	name		text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$'),
	argv		jsonb NOT NULL CHECK (jsonb_typeof(argv) = 'array'
			    AND jsonb_array_length(argv) BETWEEN 1 AND 256),
	images		text[] NOT NULL CHECK (cardinality(images) BETWEEN 1 AND 16),
	per_image	integer NOT NULL CHECK (per_image BETWEEN 1 AND 64),
	profile		text,
	secs		bigint NOT NULL CHECK (secs >= 60),
	keep		boolean NOT NULL DEFAULT false,
	source_sha256	text CHECK (source_sha256 ~ '^[0-9a-f]{64}$'),
	source_size	bigint CHECK (source_size BETWEEN 1 AND 268435456),
	source_received	bigint NOT NULL DEFAULT 0,
	state		text NOT NULL DEFAULT 'queued' CHECK (state IN
			    ('uploading', 'queued', 'running', 'done', 'failed',
			    'cancelled')),
	reason		text,
	created		timestamptz NOT NULL DEFAULT now(),
	ended		timestamptz,
	CHECK ((source_sha256 IS NULL) = (source_size IS NULL))
);
CREATE INDEX jobs_user ON jobs (user_id, id);

CREATE TABLE job_runs (
	id		bigserial PRIMARY KEY,
	job_id		bigint NOT NULL REFERENCES jobs ON DELETE CASCADE,
	image		text NOT NULL,
	reservation_id	bigint NOT NULL,	-- the asap request's id, then
						-- the reservation's
	node_id		bigint REFERENCES nodes,
	deployment_id	bigint REFERENCES deployments,
	state		text NOT NULL DEFAULT 'waiting' CHECK (state IN
			    ('waiting', 'deploying', 'deploy_failed', 'running',
			    'exited', 'lost', 'cancelled')),
	reason		text,
	exit_status	integer,
	started		timestamptz,
	ended		timestamptz,
	seconds		integer,		-- the command's, as the hook says
	stdout_bytes	bigint NOT NULL DEFAULT 0,
	stderr_bytes	bigint NOT NULL DEFAULT 0,
	results_bytes	bigint NOT NULL DEFAULT 0,
	results_sha256	text,
	truncated	boolean NOT NULL DEFAULT false,
	claimed		timestamptz,		-- deploying since
	token_hash	bytea UNIQUE CHECK (length(token_hash) = 32),
	token_addr	inet
);
CREATE INDEX job_runs_job ON job_runs (job_id);
CREATE INDEX job_runs_open ON job_runs (reservation_id)
	WHERE state IN ('waiting', 'deploying', 'running');

-- The runs of job jid: n per image, each image one asap request of
-- its user. The job must be queued.
CREATE FUNCTION job_queue(jid bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	j jobs; img text; rid bigint;
BEGIN
	SELECT * INTO j FROM jobs WHERE id = jid FOR UPDATE;
	FOREACH img IN ARRAY j.images LOOP
		rid := asap_submit(j.user_id, NULL, NULL, j.per_image, j.profile,
		    '{}', j.secs);
		INSERT INTO job_runs (job_id, image, reservation_id)
		    SELECT jid, img, rid FROM generate_series(1, j.per_image);
	END LOOP;
	UPDATE jobs SET state = 'queued' WHERE id = jid;
END $$;

-- A new job of usr; its id. With a source (sha, size) it waits for
-- the upload (uploading); without, it is queued at once.
CREATE FUNCTION job_submit(usr bigint, jname text, args jsonb, imgs text[],
    n integer, prof text, secs bigint, keep boolean, sha text, size bigint)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	jid bigint;
BEGIN
	IF (SELECT count(*) FROM jobs WHERE user_id = usr AND state IN
	    ('uploading', 'queued', 'running')) >= 100 THEN
		RAISE EXCEPTION 'at most 100 jobs at once' USING ERRCODE = 'PP403';
	END IF;
	INSERT INTO jobs (user_id, name, argv, images, per_image, profile, secs,
	    keep, source_sha256, source_size, state) VALUES (usr, jname, args,
	    imgs, n, prof, secs, keep, sha, size, CASE WHEN sha IS NULL THEN
	    'queued' ELSE 'uploading' END) RETURNING id INTO jid;
	IF sha IS NULL THEN
		PERFORM job_queue(jid);
	END IF;
	RETURN jid;
END $$;

-- The runs the job thread may deploy now, claimed (deploying, their
-- nodes assigned): one row per placed request, with its job's user,
-- image and nodes. Claimed rows are skipped by another pipold.
CREATE FUNCTION job_claim() RETURNS TABLE (job bigint, reservation bigint,
    image text, user_id bigint, user_name text, admin boolean, nodes text[])
LANGUAGE plpgsql AS $$
DECLARE
	rr record;
BEGIN
	FOR rr IN SELECT DISTINCT jr.reservation_id AS rid, jr.job_id AS jid,
	    jr.image AS img FROM job_runs jr JOIN jobs j ON j.id = jr.job_id
	    JOIN reservations r ON r.id = jr.reservation_id
	    WHERE jr.state = 'waiting' AND j.state IN ('queued', 'running')
	    AND reservation_state(r) = 'running' LOOP
		PERFORM 1 FROM job_runs WHERE reservation_id = rr.rid AND
		    state = 'waiting' FOR UPDATE SKIP LOCKED;
		IF NOT FOUND THEN
			CONTINUE;
		END IF;
		WITH rn AS (SELECT node_id, row_number() OVER (ORDER BY n.name)
		    AS k FROM reservation_nodes x JOIN nodes n ON n.id = x.node_id
		    WHERE x.reservation_id = rr.rid AND x.live), w AS (SELECT id,
		    row_number() OVER (ORDER BY id) AS k FROM job_runs WHERE
		    reservation_id = rr.rid AND state = 'waiting')
		UPDATE job_runs jr SET node_id = rn.node_id, state = 'deploying',
		    claimed = now() FROM w JOIN rn ON rn.k = w.k WHERE jr.id = w.id;
		job := rr.jid; reservation := rr.rid; image := rr.img;
		SELECT u.id, u.name, u.is_admin INTO user_id, user_name, admin
		    FROM jobs j JOIN users u ON u.id = j.user_id WHERE j.id = rr.jid;
		SELECT array_agg(n.name ORDER BY n.name) INTO nodes FROM job_runs
		    jr JOIN nodes n ON n.id = jr.node_id WHERE jr.reservation_id =
		    rr.rid AND jr.state = 'deploying' AND jr.deployment_id IS NULL;
		RETURN NEXT;
	END LOOP;
END $$;

-- The deployments made for request res now belong to its runs.
CREATE FUNCTION job_deployed(res bigint) RETURNS void
LANGUAGE sql AS $$
	UPDATE job_runs jr SET deployment_id = (SELECT max(d.id) FROM
	    deployments d WHERE d.reservation_id = res AND d.node_id =
	    jr.node_id) WHERE jr.reservation_id = res AND jr.state =
	    'deploying' AND jr.deployment_id IS NULL
$$;

-- The deployment of request res was refused: its runs say why.
CREATE FUNCTION job_deploy_refused(res bigint, why text) RETURNS void
LANGUAGE sql AS $$
	UPDATE job_runs SET state = 'deploy_failed', reason = why, ended = now(),
	    token_hash = NULL WHERE reservation_id = res AND state = 'deploying'
$$;

-- Is run state s over?
CREATE FUNCTION job_run_over(s text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
	SELECT s IN ('deploy_failed', 'exited', 'lost', 'cancelled')
$$;

-- One turn of bookkeeping, idempotent, safe from several pipold: runs
-- moved on from their deployments, requests and reservations; the
-- reservations of finished runs released (unless keep); jobs' states.
-- The number of runs and jobs changed.
CREATE FUNCTION job_sync() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
	n integer := 0; k integer; rr record;
BEGIN
	-- a request that was closed or cancelled: never placed
	UPDATE job_runs jr SET state = 'deploy_failed', ended = now(),
	    reason = 'not placed: ' || coalesce(a.reason, a.state)
	    FROM asap_requests a WHERE a.id = jr.reservation_id AND
	    jr.state = 'waiting' AND a.state IN ('closed', 'cancelled');
	GET DIAGNOSTICS k = ROW_COUNT; n := n + k;
	-- the deployment failed: the node, not the command
	UPDATE job_runs jr SET state = 'deploy_failed', ended = now(),
	    token_hash = NULL, reason = coalesce(d.reason, 'deployment failed')
	    FROM deployments d WHERE d.id = jr.deployment_id AND
	    jr.state = 'deploying' AND d.state = 'failed';
	GET DIAGNOSTICS k = ROW_COUNT; n := n + k;
	-- claimed by a pipold that died before its deployment was made
	UPDATE job_runs SET state = 'deploy_failed', ended = now(),
	    reason = 'the deployment was never made (pipold stopped?)'
	    WHERE state = 'deploying' AND deployment_id IS NULL AND
	    claimed < now() - interval '10 minutes';
	GET DIAGNOSTICS k = ROW_COUNT; n := n + k;
	-- the reservation ended under a run: lost, its token dies
	UPDATE job_runs jr SET state = CASE WHEN jr.state = 'deploying' THEN
	    'deploy_failed' ELSE 'lost' END, ended = now(), token_hash = NULL,
	    reason = 'reservation ' || r.id || ' ' || reservation_state(r)
	    FROM reservations r WHERE r.id = jr.reservation_id AND
	    jr.state IN ('deploying', 'running') AND
	    reservation_state(r) <> 'running';
	GET DIAGNOSTICS k = ROW_COUNT; n := n + k;
	-- every run of a reservation over: released (unless keep)
	FOR rr IN SELECT r.id, r.user_id FROM reservations r WHERE r.state =
	    'active' AND r.id IN (SELECT jr.reservation_id FROM job_runs jr
	    JOIN jobs j ON j.id = jr.job_id WHERE NOT j.keep) AND NOT EXISTS
	    (SELECT 1 FROM job_runs jr WHERE jr.reservation_id = r.id AND NOT
	    job_run_over(jr.state)) FOR UPDATE OF r SKIP LOCKED LOOP
		PERFORM release(rr.user_id, rr.id);
		INSERT INTO events (actor, kind, detail) VALUES ('pipold',
		    'job.release', jsonb_build_object('id', rr.id));
		n := n + 1;
	END LOOP;
	-- jobs: running once a run left waiting; over with their runs
	UPDATE jobs j SET state = 'running' WHERE j.state = 'queued' AND
	    EXISTS (SELECT 1 FROM job_runs jr WHERE jr.job_id = j.id AND
	    jr.state <> 'waiting');
	GET DIAGNOSTICS k = ROW_COUNT; n := n + k;
	UPDATE jobs j SET ended = now(), state = CASE WHEN NOT EXISTS (SELECT
	    1 FROM job_runs jr WHERE jr.job_id = j.id AND (jr.state <>
	    'exited' OR jr.exit_status <> 0)) THEN 'done' ELSE 'failed' END
	    WHERE j.state IN ('queued', 'running') AND NOT EXISTS (SELECT 1
	    FROM job_runs jr WHERE jr.job_id = j.id AND NOT
	    job_run_over(jr.state));
	GET DIAGNOSTICS k = ROW_COUNT; n := n + k;
	RETURN n;
END $$;

-- Cancel job jid for usr (its owner or an admin): queued requests
-- cancelled, placed ones released, unfinished runs cancelled.
CREATE FUNCTION job_cancel(usr bigint, jid bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	j jobs; rid bigint;
BEGIN
	SELECT * INTO j FROM jobs WHERE id = jid FOR UPDATE;
	IF NOT FOUND OR (j.user_id <> usr AND NOT (SELECT is_admin FROM users
	    WHERE id = usr)) THEN
		RAISE EXCEPTION 'job %: no such job of yours', jid
		    USING ERRCODE = 'PP404';
	END IF;
	IF j.state NOT IN ('uploading', 'queued', 'running') THEN
		RAISE EXCEPTION 'job %: already %', jid, j.state
		    USING ERRCODE = 'PP409';
	END IF;
	UPDATE job_runs SET state = 'cancelled', ended = now(), token_hash = NULL,
	    reason = 'cancelled' WHERE job_id = jid AND NOT job_run_over(state);
	FOR rid IN SELECT DISTINCT reservation_id FROM job_runs WHERE
	    job_id = jid LOOP
		IF NOT asap_cancel(j.user_id, rid) AND EXISTS (SELECT 1 FROM
		    reservations WHERE id = rid AND state = 'active') THEN
			PERFORM release(j.user_id, rid);
		END IF;
	END LOOP;
	UPDATE jobs SET state = 'cancelled', ended = now(), reason = 'cancelled'
	    WHERE id = jid;
END $$;

-- The run of a job-run token (its SHA-256) asked from addr: open while
-- deploying or running under a running reservation, from the address
-- that fetched the order. NULL when it opens nothing.
CREATE FUNCTION job_run_of_token(hash bytea, addr inet) RETURNS bigint
LANGUAGE sql STABLE AS $$
	SELECT jr.id FROM job_runs jr JOIN reservations r ON
	    r.id = jr.reservation_id WHERE jr.token_hash = hash AND
	    jr.token_addr = addr AND jr.state IN ('deploying', 'running') AND
	    reservation_state(r) = 'running'
$$;

-- The hook asks for its command: only once its deployment is ready
-- (PP409 before); the run is running from the first ask.
CREATE FUNCTION job_run_start(rid bigint) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	jr job_runs; d deployments;
BEGIN
	SELECT * INTO jr FROM job_runs WHERE id = rid FOR UPDATE;
	SELECT * INTO d FROM deployments WHERE id = jr.deployment_id;
	IF d.state IS DISTINCT FROM 'ready' THEN
		RAISE EXCEPTION 'run %: its deployment is not ready yet', rid
		    USING ERRCODE = 'PP409';
	END IF;
	IF jr.state = 'deploying' THEN
		UPDATE job_runs SET state = 'running', started = now()
		    WHERE id = rid;
	END IF;
	RETURN (SELECT argv FROM jobs WHERE id = jr.job_id);
END $$;

-- The hook's result, once: exited, its token dead.
CREATE FUNCTION job_run_finish(rid bigint, status integer, secs integer,
    trunc boolean, rsha text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	UPDATE job_runs SET state = 'exited', exit_status = status, seconds =
	    secs, truncated = trunc, results_sha256 = rsha, ended = now(),
	    token_hash = NULL WHERE id = rid AND state = 'running';
	IF NOT FOUND THEN
		RAISE EXCEPTION 'run %: not running', rid USING ERRCODE = 'PP409';
	END IF;
END $$;

-- The portability matrix of usr's jobs (all users' when usr is NULL)
-- since t: per job name and image, the last run that ended (else the
-- last one), as passed, failed, deploy_failed, lost, cancelled or
-- "not run" (still waiting or running).
CREATE FUNCTION job_matrix(usr bigint, t timestamptz) RETURNS json
LANGUAGE sql STABLE AS $$
	WITH last AS (SELECT DISTINCT ON (j.name, jr.image) j.name, jr.image,
	    j.id AS job, jr.id AS run, coalesce(jr.ended, jr.started, j.created)
	    AS at, jr.seconds, CASE WHEN jr.state = 'exited' AND
	    jr.exit_status = 0 THEN 'passed' WHEN jr.state = 'exited' THEN
	    'failed' WHEN job_run_over(jr.state) THEN jr.state ELSE 'not run'
	    END AS result, jr.exit_status, jr.reason FROM job_runs jr JOIN
	    jobs j ON j.id = jr.job_id WHERE (usr IS NULL OR j.user_id = usr)
	    AND j.created >= t ORDER BY j.name, jr.image,
	    job_run_over(jr.state) DESC, jr.ended DESC NULLS LAST, jr.id DESC)
	SELECT json_build_object('images', coalesce((SELECT json_agg(DISTINCT
	    image) FROM last), '[]'), 'cells', coalesce((SELECT json_agg(
	    json_build_object('name', name, 'image', image, 'job', job, 'run',
	    run, 'at', at, 'seconds', seconds, 'result', result, 'status',
	    exit_status, 'reason', reason) ORDER BY name, image) FROM last),
	    '[]'))
$$;
