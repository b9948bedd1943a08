-- 020_cron.sql -- cyclic jobs (pipol cron). An entry is a job of
-- "pipol sub" (016) to create again and again: by a cron expression,
-- or in a site window (nightly, weekly). pipold's scheduler (sched.c,
-- cron.c) fires what is due, one entry per transaction: the entry's
-- row is locked (FOR UPDATE SKIP LOCKED) and its next firing moved in
-- the same transaction as the job is made, so several pipold on one
-- database never fire one entry twice, and a firing missed while
-- pipold was down fires once, not once per missed time. Times are UTC.
--
-- The jobs of entries go to the nightly queue: low priority, and
-- pre-emptible. A reservation of a queue that is not pre-emptible
-- (the day's, interactive) that needs nodes a pre-emptible one holds
-- over its range takes them at admission (reserve_as, below): the
-- pre-emptible reservation ends when the new one starts (or now, if
-- that is now), and its job says it was pre-empted. The other way
-- round never happens: a pre-emptible reservation only ever takes
-- free nodes (the exclusion constraint of reservation_nodes).

ALTER TABLE queues ADD COLUMN preemptible boolean NOT NULL DEFAULT false;
INSERT INTO queues (name, max_nodes, max_duration, priority, preemptible)
	VALUES ('nightly', 64, '3 days', -100, true);

-- The site's windows: when each opens (a cron expression, UTC) and how
-- long it stays open. An entry of a window fires when it opens, or
-- later while it is open (pipold was down); never once it is closed.
CREATE TABLE cron_windows (
	name		text PRIMARY KEY CHECK (name IN ('nightly', 'weekly')),
	opens		text NOT NULL CHECK (length(opens) BETWEEN 9 AND 128),
	secs		integer NOT NULL CHECK (secs BETWEEN 60 AND 604800)
);
INSERT INTO cron_windows VALUES ('nightly', '0 22 * * *', 8 * 3600),
	('weekly', '0 22 * * 5', 56 * 3600);

-- The cron's clock: now() shifted by an interval, 0 but in tests (the
-- seam that makes time pass for the firing decisions, nothing else).
CREATE TABLE cron_clock (
	one		boolean PRIMARY KEY DEFAULT true CHECK (one),
	shift		interval NOT NULL DEFAULT '0'
);
INSERT INTO cron_clock DEFAULT VALUES;
CREATE FUNCTION cron_now() RETURNS timestamptz LANGUAGE sql STABLE AS $$
	SELECT now() + (SELECT shift FROM cron_clock)
$$;

CREATE TABLE cron_entries (
	id		bigserial PRIMARY KEY,
	user_id		bigint NOT NULL REFERENCES users,
	name		text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$'),
	win		text REFERENCES cron_windows,	-- a window, or
	expr		text CHECK (length(expr) BETWEEN 9 AND 128),	-- cron
	argv		jsonb NOT NULL CHECK (jsonb_typeof(argv) = 'array'
			    AND jsonb_array_length(argv) BETWEEN 1 AND 256),
	images		text[] NOT NULL CHECK (cardinality(images) BETWEEN 1 AND 16),
	per_image	integer NOT NULL CHECK (per_image BETWEEN 1 AND 64),
	profile		text,
	secs		bigint NOT NULL CHECK (secs >= 60),
	keep		boolean NOT NULL DEFAULT false,
	paused		boolean NOT NULL DEFAULT false,
	next_fire	timestamptz NOT NULL,
	last_fire	timestamptz,
	last_job	bigint,
	last_error	text,
	fired		integer NOT NULL DEFAULT 0,
	created		timestamptz NOT NULL DEFAULT now(),
	UNIQUE (user_id, name),
	CHECK ((win IS NULL) <> (expr IS NULL))
);
CREATE INDEX cron_entries_due ON cron_entries (next_fire) WHERE NOT paused;

-- a job's requests' queue (NULL: default), and the entry that made it
ALTER TABLE jobs ADD COLUMN queue text;
ALTER TABLE jobs ADD COLUMN cron_id bigint REFERENCES cron_entries
	ON DELETE SET NULL;

-- 016's job_queue: the requests in the job's queue.
CREATE OR REPLACE FUNCTION job_queue(jid bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	j jobs; img text; rid bigint;
BEGIN
	SELECT * INTO j FROM jobs WHERE id = jid FOR UPDATE;
	FOREACH img IN ARRAY j.images LOOP
		rid := asap_submit(j.user_id, j.queue, NULL, j.per_image,
		    j.profile, '{}', j.secs);
		INSERT INTO job_runs (job_id, image, reservation_id)
		    SELECT jid, img, rid FROM generate_series(1, j.per_image);
	END LOOP;
	UPDATE jobs SET state = 'queued' WHERE id = jid;
END $$;

-- 016's job_submit, in queue qname (NULL: default).
CREATE FUNCTION job_submit_in(qname text, usr bigint, jname text, args jsonb,
    imgs text[], n integer, prof text, secs bigint, keep boolean, sha text,
    size bigint) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	jid bigint;
BEGIN
	IF (SELECT count(*) FROM jobs WHERE user_id = usr AND state IN
	    ('uploading', 'queued', 'running')) >= 100 THEN
		RAISE EXCEPTION 'at most 100 jobs at once' USING ERRCODE = 'PP403';
	END IF;
	INSERT INTO jobs (user_id, name, argv, images, per_image, profile, secs,
	    keep, source_sha256, source_size, queue, state) VALUES (usr, jname,
	    args, imgs, n, prof, secs, keep, sha, size, qname, CASE WHEN sha IS
	    NULL THEN 'queued' ELSE 'uploading' END) RETURNING id INTO jid;
	IF sha IS NULL THEN
		PERFORM job_queue(jid);
	END IF;
	RETURN jid;
END $$;

CREATE OR REPLACE FUNCTION job_submit(usr bigint, jname text, args jsonb,
    imgs text[], n integer, prof text, secs bigint, keep boolean, sha text,
    size bigint) RETURNS bigint LANGUAGE sql AS $$
	SELECT job_submit_in(NULL, usr, jname, args, imgs, n, prof, secs, keep,
	    sha, size)
$$;

-- A new entry of usr, first firing at nxt (pipold computes it: the
-- expression is parsed in C, cron_expr.c). At most 32 entries a user;
-- a window's entry lasts no longer than its window.
CREATE FUNCTION cron_add(usr bigint, ename text, w text, ex text, args jsonb,
    imgs text[], n integer, prof text, secs bigint, keep boolean,
    nxt timestamptz) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	id bigint; ws integer;
BEGIN
	IF w IS NOT NULL THEN
		SELECT cw.secs INTO ws FROM cron_windows cw WHERE name = w;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'window %: no such window', w
			    USING ERRCODE = 'PP404';
		END IF;
		IF secs > ws THEN
			RAISE EXCEPTION '--for %s: longer than the % window (%s)',
			    secs, w, ws USING ERRCODE = 'PP400';
		END IF;
	END IF;
	IF prof IS NOT NULL AND prof NOT IN (SELECT DISTINCT profile FROM nodes) THEN
		RAISE EXCEPTION 'profile %: no node of this profile', prof
		    USING ERRCODE = 'PP404';
	END IF;
	PERFORM 1 FROM users WHERE users.id = usr FOR NO KEY UPDATE;
	IF (SELECT count(*) FROM cron_entries WHERE user_id = usr) >= 32 THEN
		RAISE EXCEPTION 'at most 32 cron entries' USING ERRCODE = 'PP403';
	END IF;
	IF EXISTS (SELECT 1 FROM cron_entries WHERE user_id = usr AND
	    name = ename) THEN
		RAISE EXCEPTION 'cron %: you have one of this name', ename
		    USING ERRCODE = 'PP409';
	END IF;
	INSERT INTO cron_entries (user_id, name, win, expr, argv, images,
	    per_image, profile, secs, keep, next_fire) VALUES (usr, ename, w,
	    ex, args, imgs, n, prof, secs, keep, nxt) RETURNING cron_entries.id
	    INTO id;
	RETURN id;
END $$;

-- The entry key names for usr: its id (digits), or the name of one of
-- usr's own. Locked. PP404 unless usr owns it or is an admin.
CREATE FUNCTION cron_mine(usr bigint, k text) RETURNS cron_entries
LANGUAGE plpgsql AS $$
DECLARE
	c cron_entries;
BEGIN
	IF k ~ '^[0-9]{1,18}$' THEN
		SELECT * INTO c FROM cron_entries WHERE id = k::bigint FOR UPDATE;
	ELSE
		SELECT * INTO c FROM cron_entries WHERE user_id = usr AND
		    name = k FOR UPDATE;
	END IF;
	IF NOT FOUND OR (c.user_id <> usr AND NOT (SELECT is_admin FROM users
	    WHERE id = usr)) THEN
		RAISE EXCEPTION 'cron %: no such entry of yours', k
		    USING ERRCODE = 'PP404';
	END IF;
	RETURN c;
END $$;

-- The firing of entry eid, in the caller's transaction, which holds
-- its row (cron.c's FOR UPDATE SKIP LOCKED): when fire, its job made
-- exactly as pipol sub makes one, in the nightly queue; then, fired or
-- not (a window closed), its next firing at nxt. A refusal of the job
-- (its user's limits) is kept as last_error; the entry goes on. The
-- job's id, or NULL.
CREATE FUNCTION cron_fire(eid bigint, who text, fire boolean,
    nxt timestamptz) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	c cron_entries; jid bigint; why text;
BEGIN
	SELECT * INTO c FROM cron_entries WHERE id = eid;
	IF fire THEN
		BEGIN
			jid := job_submit_in('nightly', c.user_id, c.name, c.argv,
			    c.images, c.per_image, c.profile, c.secs, c.keep,
			    NULL, NULL);
			UPDATE jobs SET cron_id = eid WHERE id = jid;
		EXCEPTION WHEN SQLSTATE 'PP403' OR SQLSTATE 'PP404' OR
		    SQLSTATE 'PP400' THEN
			why := SQLERRM;
		END;
		INSERT INTO events (actor, kind, detail) VALUES (who, 'cron.fire',
		    jsonb_build_object('id', eid, 'job', jid, 'at', c.next_fire,
		    'error', why));
	ELSE
		INSERT INTO events (actor, kind, detail) VALUES (who, 'cron.skip',
		    jsonb_build_object('id', eid, 'at', c.next_fire, 'reason',
		    'its window closed'));
	END IF;
	UPDATE cron_entries SET next_fire = nxt, last_fire = CASE WHEN fire
	    THEN cron_now() ELSE last_fire END, last_job = coalesce(jid,
	    last_job), last_error = CASE WHEN fire THEN why ELSE last_error END,
	    fired = fired + fire::integer WHERE id = eid;
	RETURN jid;
END $$;

-- Pre-emption at admission. A reservation rid of queue qname (not
-- pre-emptible) asking nodes (names, or cnt of profile prof) over
-- range: the pre-emptible reservations on the nodes it needs are cut.
-- Named nodes: those on them. A count: only when the free nodes are
-- too few, those on as many nodes as are missing (by name). A cut
-- reservation ends when range starts (still a future start), or now:
-- released, its deployments failed; its jobs say why. The number cut.
CREATE FUNCTION cron_preempt(qname text, names text[], cnt integer,
    prof text, range tstzrange, rid bigint) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
	q queues; want bigint[]; nfree integer; r reservations; n integer := 0;
BEGIN
	SELECT * INTO q FROM queues WHERE name = coalesce(qname, 'default');
	IF NOT FOUND OR q.preemptible THEN
		RETURN 0;
	END IF;
	IF names IS NOT NULL THEN
		SELECT array_agg(id) INTO want FROM nodes WHERE name = ANY (names);
	ELSIF cnt IS NOT NULL AND cnt > 0 THEN
		SELECT count(*) INTO nfree FROM nodes nd WHERE (prof IS NULL OR
		    nd.profile = prof) AND NOT EXISTS (SELECT 1 FROM
		    reservation_nodes rn WHERE rn.node_id = nd.id AND rn.live AND
		    rn.during && range);
		IF nfree >= cnt THEN
			RETURN 0;
		END IF;
		SELECT array_agg(id) INTO want FROM (SELECT nd.id FROM nodes nd
		    WHERE (prof IS NULL OR nd.profile = prof) AND NOT EXISTS
		    (SELECT 1 FROM reservation_nodes rn JOIN reservations x ON
		    x.id = rn.reservation_id JOIN queues xq ON xq.id = x.queue_id
		    WHERE rn.node_id = nd.id AND rn.live AND rn.during && range
		    AND NOT xq.preemptible) ORDER BY EXISTS (SELECT 1 FROM
		    reservation_nodes rn WHERE rn.node_id = nd.id AND rn.live AND
		    rn.during && range), nd.name LIMIT cnt) s;
	END IF;
	IF want IS NULL THEN
		RETURN 0;
	END IF;
	FOR r IN SELECT * FROM reservations WHERE state = 'active' AND id IN
	    (SELECT rn.reservation_id FROM reservation_nodes rn JOIN
	    reservations x ON x.id = rn.reservation_id JOIN queues xq ON
	    xq.id = x.queue_id WHERE rn.node_id = ANY (want) AND rn.live AND
	    rn.during && range AND xq.preemptible) ORDER BY id FOR UPDATE LOOP
		IF lower(range) > now() AND lower(range) > lower(r.during) THEN
			UPDATE reservation_nodes SET during = tstzrange(lower(during),
			    lower(range)) WHERE reservation_id = r.id;
			UPDATE reservations SET during = tstzrange(lower(during),
			    lower(range)) WHERE id = r.id;
		ELSE
			PERFORM release(r.user_id, r.id);
		END IF;
		UPDATE jobs SET reason = format('pre-empted by reservation %s',
		    rid) WHERE id IN (SELECT job_id FROM job_runs WHERE
		    reservation_id = r.id);
		INSERT INTO events (actor, kind, detail) VALUES ('pipold',
		    'reservation.preempt', jsonb_build_object('id', r.id, 'by',
		    rid, 'until', lower(range)));
		n := n + 1;
	END LOOP;
	RETURN n;
END $$;

-- 015's reserve_as, pre-empting first (every reservation goes through
-- it: pipol reserve, the scheduler's placements).
ALTER FUNCTION reserve_as(bigint, bigint, text, text[], integer, text, jsonb,
    timestamptz, bigint) RENAME TO reserve_as_015;
CREATE FUNCTION reserve_as(rid bigint, usr bigint, qname text, names text[],
    cnt integer, prof text, lics jsonb, start timestamptz, secs bigint)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	t0 timestamptz := date_trunc('second', coalesce(start, now()));
BEGIN
	IF secs >= 60 AND t0 >= now() - interval '1 minute' THEN
		PERFORM cron_preempt(qname, names, cnt, prof, tstzrange(t0,
		    t0 + make_interval(secs => secs)), rid);
	END IF;
	RETURN reserve_as_015(rid, usr, qname, names, cnt, prof, lics, start,
	    secs);
END $$;
