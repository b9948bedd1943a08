-- 002_reserve_deploy.sql -- reservations, licences and deployments as
-- functions: each runs in the caller's transaction, takes the row locks
-- it needs, and fails with a SQLSTATE pipold maps to an HTTP status:
--   PP400 bad request, PP403 refused by an admission rule or not yours,
--   PP404 no such thing, PP409 not free; 23P01 (exclusion) is a 409 too.

ALTER TABLE reservations ADD COLUMN released timestamptz;
ALTER TABLE nodes ADD COLUMN disk text;		-- target on the node; NULL: the agent picks
ALTER TABLE nodes ADD COLUMN boot_params jsonb NOT NULL DEFAULT '{}';
ALTER TABLE deployments ADD COLUMN kind text NOT NULL DEFAULT 'deploy'
	CHECK (kind IN ('deploy', 'capture'));
ALTER TABLE deployments ADD COLUMN user_id bigint REFERENCES users;
ALTER TABLE deployments ADD COLUMN bare boolean NOT NULL DEFAULT false;
ALTER TABLE deployments ADD COLUMN bytes_total bigint NOT NULL DEFAULT 0;
ALTER TABLE deployments ADD COLUMN disk_hash bytea;
ALTER TABLE deployments ALTER COLUMN image_version DROP NOT NULL;
CREATE INDEX deployments_user ON deployments (user_id, id);
CREATE INDEX reservations_user ON reservations (user_id, id);

-- The state a reservation is in, now.
CREATE FUNCTION reservation_state(r reservations) RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT CASE WHEN r.state <> 'active' THEN r.state
	    WHEN now() < lower(r.during) THEN 'waiting'
	    WHEN now() >= upper(r.during) THEN 'ended'
	    ELSE 'running' END
$$;

-- Licences taken over a range, other than by reservation skip.
CREATE FUNCTION licence_used(lic bigint, range tstzrange, skip bigint)
RETURNS bigint LANGUAGE sql STABLE AS $$
	SELECT coalesce(sum(rl.count), 0) FROM reservation_licences rl
	JOIN reservations r ON r.id = rl.reservation_id
	WHERE rl.licence_id = lic AND r.state = 'active'
	    AND r.during && range AND r.id <> skip
$$;

-- Check and take licences {"name": count, ...} for reservation res.
-- The licence rows are locked: concurrent requests for one licence
-- are counted one after the other. The count is conservative: every
-- reservation overlapping the range counts, even when they do not
-- overlap each other.
CREATE FUNCTION licences_take(res bigint, want jsonb, range tstzrange,
    fresh boolean) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	k text; v jsonb; lic licences; n integer;
BEGIN
	FOR k, v IN SELECT * FROM jsonb_each(coalesce(want, '{}')) ORDER BY 1 LOOP
		IF jsonb_typeof(v) <> 'number' THEN
			RAISE EXCEPTION 'licence %: a count is a number', k
			    USING ERRCODE = 'PP400';
		END IF;
		n := v::integer;
		SELECT * INTO lic FROM licences WHERE name = k FOR UPDATE;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'licence %: no such licence', k
			    USING ERRCODE = 'PP404';
		END IF;
		IF n < 1 THEN
			RAISE EXCEPTION 'licence %: count % is not positive', k, n
			    USING ERRCODE = 'PP400';
		END IF;
		IF licence_used(lic.id, range, res) + n > lic.total THEN
			RAISE EXCEPTION 'licence %: % asked, % of % free then', k, n,
			    greatest(lic.total - licence_used(lic.id, range, res), 0),
			    lic.total USING ERRCODE = 'PP409';
		END IF;
		IF fresh THEN
			INSERT INTO reservation_licences VALUES (res, lic.id, n);
		END IF;
	END LOOP;
END $$;

-- The admission rules of a queue for a request of nnodes nodes over
-- range. Admins are bound by them too: a rule is a rule.
CREATE FUNCTION admission_check(q queues, nnodes integer, range tstzrange)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	IF nnodes > q.max_nodes THEN
		RAISE EXCEPTION 'queue %: at most % nodes per reservation, % asked',
		    q.name, q.max_nodes, nnodes USING ERRCODE = 'PP403';
	END IF;
	IF upper(range) - lower(range) > q.max_duration THEN
		RAISE EXCEPTION 'queue %: at most % per reservation', q.name,
		    q.max_duration USING ERRCODE = 'PP403';
	END IF;
	IF q.hours_from IS NOT NULL AND NOT (
	    CASE WHEN q.hours_from <= q.hours_to
	    THEN lower(range)::time >= q.hours_from AND lower(range)::time < q.hours_to
	    ELSE lower(range)::time >= q.hours_from OR lower(range)::time < q.hours_to END) THEN
		RAISE EXCEPTION 'queue %: reservations start between % and %',
		    q.name, q.hours_from, q.hours_to USING ERRCODE = 'PP403';
	END IF;
END $$;

-- Reserve named nodes, or count free nodes (of a profile), from start
-- (NULL: now) for secs seconds. Free nodes are taken with SKIP LOCKED so
-- that concurrent requests pick different ones; the exclusion
-- constraint of reservation_nodes is what makes double booking
-- impossible. Returns the reservation id.
CREATE FUNCTION reserve(usr bigint, qname text, names text[], cnt integer,
    prof text, lics jsonb, start timestamptz, secs bigint)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	q queues; range tstzrange; res bigint; ids bigint[]; n text;
	t0 timestamptz := date_trunc('second', coalesce(start, now()));
BEGIN
	SELECT * INTO q FROM queues WHERE name = coalesce(qname, 'default');
	IF NOT FOUND THEN
		RAISE EXCEPTION 'queue %: no such queue', qname USING ERRCODE = 'PP404';
	END IF;
	IF secs IS NULL OR secs < 60 THEN
		RAISE EXCEPTION 'a reservation lasts at least a minute'
		    USING ERRCODE = 'PP400';
	END IF;
	IF t0 < now() - interval '1 minute' THEN
		RAISE EXCEPTION 'start % is in the past', t0 USING ERRCODE = 'PP400';
	END IF;
	range := tstzrange(t0, t0 + make_interval(secs => secs));
	IF names IS NOT NULL THEN
		FOREACH n IN ARRAY names LOOP
			IF NOT EXISTS (SELECT 1 FROM nodes WHERE name = n) THEN
				RAISE EXCEPTION 'node %: no such node', n
				    USING ERRCODE = 'PP404';
			END IF;
		END LOOP;
		SELECT array_agg(id ORDER BY id) INTO ids FROM (SELECT id FROM nodes
		    WHERE name = ANY (names) ORDER BY id FOR UPDATE) s;
	ELSE
		IF cnt IS NULL OR cnt < 1 THEN
			RAISE EXCEPTION 'ask for at least one node'
			    USING ERRCODE = 'PP400';
		END IF;
		SELECT array_agg(id) INTO ids FROM (SELECT id FROM nodes nd
		    WHERE (prof IS NULL OR nd.profile = prof)
		    AND NOT EXISTS (SELECT 1 FROM reservation_nodes rn
		        WHERE rn.node_id = nd.id AND rn.live AND rn.during && range)
		    ORDER BY name LIMIT cnt FOR UPDATE SKIP LOCKED) s;
		IF coalesce(array_length(ids, 1), 0) < cnt THEN
			RAISE EXCEPTION 'only % free node(s)%, % asked',
			    coalesce(array_length(ids, 1), 0),
			    coalesce(' of profile ' || prof, ''), cnt
			    USING ERRCODE = 'PP409';
		END IF;
	END IF;
	PERFORM admission_check(q, array_length(ids, 1), range);
	INSERT INTO reservations (user_id, queue_id, during)
	    VALUES (usr, q.id, range) RETURNING id INTO res;
	INSERT INTO reservation_nodes (reservation_id, node_id, during)
	    SELECT res, unnest(ids), range;
	PERFORM licences_take(res, lics, range, true);
	RETURN res;
END $$;

-- The reservation res, when usr may change it (its owner, or an admin).
CREATE FUNCTION reservation_mine(usr bigint, res bigint) RETURNS reservations
LANGUAGE plpgsql AS $$
DECLARE
	r reservations;
BEGIN
	SELECT * INTO r FROM reservations WHERE id = res FOR UPDATE;
	IF NOT FOUND OR (r.user_id <> usr AND NOT (SELECT is_admin FROM users
	    WHERE id = usr)) THEN
		RAISE EXCEPTION 'reservation %: no such reservation of yours', res
		    USING ERRCODE = 'PP404';
	END IF;
	RETURN r;
END $$;

-- Extend res by secs; the queue's rules and the other bookings decide.
CREATE FUNCTION extend(usr bigint, res bigint, secs bigint)
RETURNS timestamptz LANGUAGE plpgsql AS $$
DECLARE
	r reservations; q queues; range tstzrange; k text; v integer;
BEGIN
	r := reservation_mine(usr, res);
	IF reservation_state(r) NOT IN ('waiting', 'running') THEN
		RAISE EXCEPTION 'reservation %: %, cannot be extended', res,
		    reservation_state(r) USING ERRCODE = 'PP409';
	END IF;
	IF secs IS NULL OR secs < 60 THEN
		RAISE EXCEPTION 'extend by at least a minute' USING ERRCODE = 'PP400';
	END IF;
	SELECT * INTO q FROM queues WHERE id = r.queue_id;
	range := tstzrange(lower(r.during), upper(r.during) + make_interval(secs => secs));
	PERFORM admission_check(q, (SELECT count(*)::integer FROM
	    reservation_nodes WHERE reservation_id = res), range);
	-- the licences held must still be free over the longer range
	FOR k, v IN SELECT l.name, rl.count FROM reservation_licences rl
	    JOIN licences l ON l.id = rl.licence_id WHERE rl.reservation_id = res LOOP
		PERFORM licences_take(res, jsonb_build_object(k, v), range, false);
	END LOOP;
	UPDATE reservation_nodes SET during = range WHERE reservation_id = res;
	UPDATE reservations SET during = range WHERE id = res;
	RETURN upper(range);
END $$;

-- Release res now: its nodes and licences are free at once.
CREATE FUNCTION release(usr bigint, res bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	r reservations;
BEGIN
	r := reservation_mine(usr, res);
	IF r.state <> 'active' THEN
		RAISE EXCEPTION 'reservation %: already %', res, r.state
		    USING ERRCODE = 'PP409';
	END IF;
	UPDATE reservation_nodes SET live = false WHERE reservation_id = res;
	UPDATE reservations SET state = 'released', released = now()
	    WHERE id = res;
END $$;

-- The order of a deployment's states; failed is reachable from any
-- state that is not final.
CREATE FUNCTION deploy_rank(s text) RETURNS integer LANGUAGE sql IMMUTABLE AS $$
	SELECT array_position(ARRAY['pending', 'booting', 'fetching', 'writing',
	    'postinstall', 'rebooting', 'ready'], s)
$$;

-- Move deployment dep forward to state st (never back; a state reached
-- twice is recorded once). true when it moved.
CREATE FUNCTION deploy_advance(dep bigint, st text, why text)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
	moved boolean;
BEGIN
	UPDATE deployments SET state = st, reason = coalesce(why, reason),
	    updated = clock_timestamp()
	    WHERE id = dep AND state NOT IN ('ready', 'failed')
	    AND (st = 'failed' OR deploy_rank(st) > deploy_rank(state));
	moved := FOUND;
	IF moved THEN
		INSERT INTO deployment_transitions (deployment_id, state)
		    VALUES (dep, st);
		-- ready: the node boots its disk; failed: the rescue
		-- environment, never a half-written disk
		IF st IN ('ready', 'failed') THEN
			UPDATE nodes SET boot_mode = CASE st WHEN 'ready'
			    THEN 'local' ELSE 'rescue' END WHERE id =
			    (SELECT node_id FROM deployments WHERE id = dep)
			    AND boot_mode = 'deploy';
		END IF;
	END IF;
	RETURN moved;
END $$;

ALTER TABLE licences ADD CHECK (name ~ '^[a-z][a-z0-9_-]{0,31}$');
ALTER TABLE queues ADD CHECK (name ~ '^[a-z][a-z0-9_-]{0,31}$');
ALTER TABLE queues ADD CHECK ((hours_from IS NULL) = (hours_to IS NULL));
