-- 015_asap.sql -- reservations as soon as possible (pipol reserve
-- --asap). A request is queued in asap_requests, holding no node and
-- no licence: the exclusion constraint of reservation_nodes stays the
-- only truth about who holds what. pipold's scheduler (sched.c) calls
-- asap_step() in a transaction of its own, again and again: each call
-- makes one decision (one request placed, or closed, or nothing) and
-- commits it. A placed request becomes the reservation of the same id
-- (the ids come from one sequence), so the id the user was given
-- follows the request from queued to running.
--
-- Order: queue priority (higher first), then submission. Strict: the
-- first request that waits for nodes or licences blocks those behind
-- it (no backfill), so a big request is never starved by small ones.
-- A request that waits on its own user's limits or its queue's start
-- hours does not block the others. Several pipold: a transaction-level
-- advisory lock makes one of them decide at a time (the others skip
-- their turn), which keeps the order strict; the exclusion constraint
-- is the last guard against a double booking whatever happens.

ALTER TABLE queues ADD COLUMN priority integer NOT NULL DEFAULT 0
	CHECK (priority BETWEEN -1000 AND 1000);

CREATE TABLE asap_requests (
	id		bigint PRIMARY KEY DEFAULT nextval('reservations_id_seq'),
	user_id		bigint NOT NULL REFERENCES users,
	queue_id	bigint NOT NULL REFERENCES queues,
	names		text[],		-- these nodes, or
	cnt		integer CHECK (cnt > 0),	-- any cnt (of profile)
	profile		text,
	licences	jsonb NOT NULL DEFAULT '{}',
	secs		bigint NOT NULL CHECK (secs >= 60),
	state		text NOT NULL DEFAULT 'queued' CHECK (state IN
			    ('queued', 'placed', 'cancelled', 'closed')),
	reason		text,		-- why closed
	submitted	timestamptz NOT NULL DEFAULT clock_timestamp(),
	decided		timestamptz,
	CHECK ((names IS NULL) <> (cnt IS NULL))
);
CREATE INDEX asap_requests_queued ON asap_requests (submitted, id)
	WHERE state = 'queued';

-- 009's reserve with the new reservation's id given: the scheduler
-- places request rid as reservation rid.
CREATE FUNCTION reserve_as(rid bigint, usr bigint, qname text, names text[],
    cnt integer, prof text, lics jsonb, start timestamptz, secs bigint)
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
	PERFORM policy_check(usr, q, coalesce(array_length(names, 1), cnt, 1),
	    range, NULL);
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
	INSERT INTO reservations (id, user_id, queue_id, during)
	    VALUES (rid, usr, q.id, range) RETURNING id INTO res;
	INSERT INTO reservation_nodes (reservation_id, node_id, during)
	    SELECT res, unnest(ids), range;
	PERFORM licences_take(res, lics, range, true);
	RETURN res;
END $$;

-- 009's reserve, now a new id for reserve_as.
CREATE OR REPLACE FUNCTION reserve(usr bigint, qname text, names text[],
    cnt integer, prof text, lics jsonb, start timestamptz, secs bigint)
RETURNS bigint LANGUAGE sql AS $$
	SELECT reserve_as(nextval('reservations_id_seq'), usr, qname, names,
	    cnt, prof, lics, start, secs)
$$;

-- Why request a can never be placed, whatever ends or is released:
-- NULL when it may be placed some day. Checked at submission (the
-- request is refused) and before each placement (the request is
-- closed with this reason): the user, the queue's grant and sizes,
-- the nodes and licences that exist, the node-hours of the request
-- alone against the user's limit.
CREATE FUNCTION asap_never(a asap_requests) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
	u users; q queues; n text; k text; v jsonb; tot integer;
	nn integer := coalesce(array_length(a.names, 1), a.cnt);
BEGIN
	SELECT * INTO u FROM users WHERE id = a.user_id;
	IF NOT FOUND THEN
		RETURN 'user: no such user';
	END IF;
	SELECT * INTO q FROM queues WHERE id = a.queue_id;
	IF NOT queue_granted(u.id, q.id) THEN
		RETURN format('queue %s: not granted to %s', q.name, u.name);
	END IF;
	IF nn > q.max_nodes THEN
		RETURN format('queue %s: at most %s nodes per reservation, %s asked',
		    q.name, q.max_nodes, nn);
	END IF;
	IF make_interval(secs => a.secs) > q.max_duration THEN
		RETURN format('queue %s: at most %s per reservation', q.name,
		    q.max_duration);
	END IF;
	IF NOT u.is_admin AND u.max_node_hours IS NOT NULL AND
	    nn * a.secs / 3600.0 > u.max_node_hours THEN
		RETURN format('%s: at most %s node-hours (this alone makes %s)',
		    u.name, u.max_node_hours, ceil(nn * a.secs / 3600.0));
	END IF;
	IF a.names IS NOT NULL THEN
		FOREACH n IN ARRAY a.names LOOP
			IF NOT EXISTS (SELECT 1 FROM nodes WHERE name = n) THEN
				RETURN format('node %s: no such node', n);
			END IF;
		END LOOP;
	ELSIF (SELECT count(*) FROM nodes WHERE a.profile IS NULL OR
	    profile = a.profile) < a.cnt THEN
		RETURN format('only %s node(s)%s in all, %s asked',
		    (SELECT count(*) FROM nodes WHERE a.profile IS NULL OR
		    profile = a.profile), coalesce(' of profile ' || a.profile,
		    ''), a.cnt);
	END IF;
	FOR k, v IN SELECT * FROM jsonb_each(a.licences) LOOP
		SELECT total INTO tot FROM licences WHERE name = k;
		IF NOT FOUND THEN
			RETURN format('licence %s: no such licence', k);
		END IF;
		IF jsonb_typeof(v) <> 'number' OR v::numeric < 1 OR
		    v::numeric > tot THEN
			RETURN format('licence %s: %s asked, %s in all', k, v, tot);
		END IF;
	END LOOP;
	RETURN NULL;
END $$;

-- Queue a request of usr (pipol reserve --asap); its id. Refused
-- (PP403/PP404/PP400) when it could never be placed, and when usr has
-- as many queued as their --max-reservations (100 when unset).
CREATE FUNCTION asap_submit(usr bigint, qname text, names text[],
    cnt integer, prof text, lics jsonb, secs bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	a asap_requests; why text; lim integer;
BEGIN
	SELECT id INTO a.queue_id FROM queues WHERE name = coalesce(qname, 'default');
	IF NOT FOUND THEN
		RAISE EXCEPTION 'queue %: no such queue', qname USING ERRCODE = 'PP404';
	END IF;
	IF secs IS NULL OR secs < 60 THEN
		RAISE EXCEPTION 'a reservation lasts at least a minute'
		    USING ERRCODE = 'PP400';
	END IF;
	IF names IS NULL AND (cnt IS NULL OR cnt < 1) THEN
		RAISE EXCEPTION 'ask for at least one node' USING ERRCODE = 'PP400';
	END IF;
	IF prof IS NOT NULL AND prof NOT IN (SELECT DISTINCT profile FROM nodes) THEN
		RAISE EXCEPTION 'profile %: no node of this profile', prof
		    USING ERRCODE = 'PP404';
	END IF;
	a.user_id := usr; a.names := names; a.cnt := CASE WHEN names IS NULL
	    THEN cnt END; a.profile := CASE WHEN names IS NULL THEN prof END;
	a.licences := coalesce(lics, '{}'); a.secs := secs;
	why := asap_never(a);
	IF why IS NOT NULL THEN
		RAISE EXCEPTION '%', why USING ERRCODE = CASE WHEN why ~
		    ': no such ' THEN 'PP404' ELSE 'PP403' END;
	END IF;
	-- bounded: a user's requests waiting at once (admins too)
	SELECT coalesce(max_reservations, 100) INTO lim FROM users WHERE id = usr
	    FOR NO KEY UPDATE;
	IF (SELECT count(*) FROM asap_requests WHERE user_id = usr AND
	    state = 'queued') >= lim THEN
		RAISE EXCEPTION 'at most % queued requests', lim
		    USING ERRCODE = 'PP403';
	END IF;
	INSERT INTO asap_requests (user_id, queue_id, names, cnt, profile,
	    licences, secs) VALUES (a.user_id, a.queue_id, a.names, a.cnt,
	    a.profile, a.licences, a.secs) RETURNING id INTO a.id;
	RETURN a.id;
END $$;

-- The queued requests in placing order, with their position (1: next).
CREATE VIEW asap_queue AS
	SELECT a.*, row_number() OVER (ORDER BY q.priority DESC, a.submitted,
	    a.id) AS position, q.priority
	FROM asap_requests a JOIN queues q ON q.id = a.queue_id
	WHERE a.state = 'queued';

-- When node nid is free by the live reservations known now: the end
-- of the one holding it now (and of those back to back after it).
CREATE FUNCTION node_free_at(nid bigint) RETURNS timestamptz
LANGUAGE plpgsql STABLE AS $$
DECLARE
	t timestamptz := now(); e timestamptz;
BEGIN
	LOOP
		SELECT max(upper(rn.during)) INTO e FROM reservation_nodes rn
		    JOIN reservations r ON r.id = rn.reservation_id
		    WHERE rn.node_id = nid AND rn.live AND r.state = 'active'
		    AND rn.during @> t;
		EXIT WHEN e IS NULL OR e <= t;
		t := e;
	END LOOP;
	RETURN t;
END $$;

-- The earliest start of request a by the ends of the reservations
-- known now (not those queued before it); NULL when unknown: a node
-- or not enough nodes of the profile.
CREATE FUNCTION asap_expected(a asap_requests) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
	SELECT CASE WHEN a.names IS NOT NULL THEN
	    (SELECT CASE WHEN count(*) = array_length(a.names, 1)
	        THEN max(node_free_at(id)) END
	     FROM nodes WHERE name = ANY (a.names))
	ELSE
	    (SELECT t FROM (SELECT node_free_at(id) AS t FROM nodes WHERE
	        a.profile IS NULL OR profile = a.profile ORDER BY 1
	        OFFSET a.cnt - 1 LIMIT 1) s)
	END
$$;

-- Cancel request rid for usr (its owner or an admin). true when it
-- was queued and now is cancelled; false when there is no such
-- request or it was placed (the caller releases the reservation of
-- that id). Waits for a scheduler deciding on it.
CREATE FUNCTION asap_cancel(usr bigint, rid bigint) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
	a asap_requests;
BEGIN
	SELECT * INTO a FROM asap_requests WHERE id = rid FOR UPDATE;
	IF NOT FOUND OR a.state = 'placed' THEN
		RETURN false;
	END IF;
	IF a.user_id <> usr AND NOT (SELECT is_admin FROM users WHERE id = usr) THEN
		RAISE EXCEPTION 'reservation %: no such reservation of yours', rid
		    USING ERRCODE = 'PP404';
	END IF;
	IF a.state <> 'queued' THEN
		RAISE EXCEPTION 'reservation %: already %', rid, a.state
		    USING ERRCODE = 'PP409';
	END IF;
	UPDATE asap_requests SET state = 'cancelled', decided = now(),
	    reason = 'cancelled' WHERE id = rid;
	RETURN true;
END $$;

-- One decision of the scheduler, in the caller's transaction, by
-- pipold who: 'busy' (another pipold is deciding), 'none' (nothing
-- queued can be placed now), 'placed' or 'closed' (one request; call
-- again). Each request is tried in a subtransaction: a refusal (no
-- free node, a licence taken, the exclusion constraint) rolls back
-- what the try took and the request stays queued.
CREATE FUNCTION asap_step(who text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	a asap_requests; why text; qn text;
BEGIN
	IF NOT pg_try_advisory_xact_lock(hashtext('pipol.asap_step')) THEN
		RETURN 'busy';
	END IF;
	FOR a IN SELECT r.* FROM asap_requests r JOIN queues q ON
	    q.id = r.queue_id WHERE r.state = 'queued'
	    ORDER BY q.priority DESC, r.submitted, r.id
	    FOR UPDATE OF r SKIP LOCKED LOOP
		why := asap_never(a);
		IF why IS NOT NULL THEN
			UPDATE asap_requests SET state = 'closed', reason = why,
			    decided = now() WHERE id = a.id;
			INSERT INTO events (actor, kind, detail) VALUES (who,
			    'reservation.close', jsonb_build_object('id', a.id,
			    'reason', why));
			RETURN 'closed';
		END IF;
		SELECT name INTO qn FROM queues WHERE id = a.queue_id;
		BEGIN
			PERFORM reserve_as(a.id, a.user_id, qn, a.names, a.cnt,
			    a.profile, a.licences, NULL, a.secs);
		EXCEPTION WHEN SQLSTATE 'PP409' OR exclusion_violation OR
		    lock_not_available THEN
			RETURN 'none';	-- waits for nodes: blocks the rest
		WHEN SQLSTATE 'PP403' THEN
			CONTINUE;	-- its user's limits, its queue's hours
		WHEN deadlock_detected OR serialization_failure THEN
			RETURN 'none';	-- the next turn tries again
		WHEN OTHERS THEN	-- what asap_never did not foresee
			why := SQLERRM;
			UPDATE asap_requests SET state = 'closed', reason = why,
			    decided = now() WHERE id = a.id;
			INSERT INTO events (actor, kind, detail) VALUES (who,
			    'reservation.close', jsonb_build_object('id', a.id,
			    'reason', why));
			RETURN 'closed';
		END;
		UPDATE asap_requests SET state = 'placed', decided = now()
		    WHERE id = a.id;
		INSERT INTO events (actor, kind, detail) VALUES (who,
		    'reservation.place', jsonb_build_object('id', a.id,
		    'waited', extract(epoch FROM now() - a.submitted)::bigint));
		RETURN 'placed';
	END LOOP;
	RETURN 'none';
END $$;
