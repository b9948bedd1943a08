-- 009_policy.sql -- who may use what (docs/admin.md, "Who may use what").
--
-- Queue grants: a queue with no grant is open to every user; a queue
-- with grants only to the users granted, the members of the groups
-- granted, and admins. The site's horizon: no reservation starts more
-- than horizon_days from now (admins too: it is the site's rule, as a
-- queue's are). Per-user limits, NULL unlimited: how many reservations
-- a user holds that have not ended (running or to come), and the
-- node-hours of those (each counts nodes x its whole length until it
-- ends). Admins are exempt from grants and limits.
--
-- Enforced in reserve() and extend(), restated here, so that every
-- path obeys: pipol reserve, a deploy's implicit reservation, extend.
-- The user's row is locked while they are counted, so two concurrent
-- requests of one user cannot both slip under a limit.

CREATE TABLE groups (
	id		bigserial PRIMARY KEY,
	name		text NOT NULL UNIQUE CHECK (name ~ '^[a-z][a-z0-9_-]{0,31}$')
);

CREATE TABLE group_members (
	group_id	bigint NOT NULL REFERENCES groups ON DELETE CASCADE,
	user_id		bigint NOT NULL REFERENCES users ON DELETE CASCADE,
	PRIMARY KEY (group_id, user_id)
);

-- one row per grant: to a user or to a group, never both
CREATE TABLE queue_grants (
	queue_id	bigint NOT NULL REFERENCES queues ON DELETE CASCADE,
	user_id		bigint REFERENCES users ON DELETE CASCADE,
	group_id	bigint REFERENCES groups ON DELETE CASCADE,
	CHECK ((user_id IS NULL) <> (group_id IS NULL))
);
CREATE UNIQUE INDEX queue_grants_user ON queue_grants (queue_id, user_id)
	WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX queue_grants_group ON queue_grants (queue_id, group_id)
	WHERE group_id IS NOT NULL;

-- the site's settings: one row
CREATE TABLE site_policy (
	one		boolean PRIMARY KEY DEFAULT true CHECK (one),
	horizon_days	integer NOT NULL DEFAULT 90
			    CHECK (horizon_days BETWEEN 1 AND 3660)
);
INSERT INTO site_policy DEFAULT VALUES;

ALTER TABLE users ADD COLUMN max_reservations integer
	CHECK (max_reservations > 0);
ALTER TABLE users ADD COLUMN max_node_hours integer
	CHECK (max_node_hours > 0);

-- May usr reserve in queue q? Admins always; else when q has no
-- grant, or one to usr or to a group usr is in.
CREATE FUNCTION queue_granted(usr bigint, q bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
	SELECT (SELECT is_admin FROM users WHERE id = usr)
	    OR NOT EXISTS (SELECT 1 FROM queue_grants WHERE queue_id = q)
	    OR EXISTS (SELECT 1 FROM queue_grants g WHERE g.queue_id = q AND
	        (g.user_id = usr OR g.group_id IN (SELECT group_id FROM
	        group_members WHERE user_id = usr)))
$$;

-- usr's reservations not yet ended, but skip: how many, and their
-- node-hours (nodes x whole length).
CREATE FUNCTION user_holdings(usr bigint, skip bigint,
    OUT n integer, OUT node_hours numeric)
LANGUAGE sql STABLE AS $$
	SELECT count(*)::integer, coalesce(sum((SELECT count(*) FROM
	    reservation_nodes rn WHERE rn.reservation_id = r.id) *
	    extract(epoch FROM upper(r.during) - lower(r.during)) / 3600), 0)
	FROM reservations r WHERE r.user_id = usr AND r.state = 'active'
	    AND upper(r.during) > now() AND r.id <> skip
$$;

-- The site's and the user's rules for usr taking (or, skip: the
-- reservation being extended, holding) nnodes nodes over range in q.
-- Raises PP403 naming the rule.
CREATE FUNCTION policy_check(usr bigint, q queues, nnodes integer,
    range tstzrange, skip bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	u users; days integer; h record; nh numeric;
BEGIN
	SELECT horizon_days INTO days FROM site_policy;
	IF lower(range) > now() + make_interval(days => days) THEN
		RAISE EXCEPTION 'start %: beyond the site''s horizon of % days',
		    lower(range), days USING ERRCODE = 'PP403';
	END IF;
	-- locked: this user's requests are counted one after the other
	SELECT * INTO u FROM users WHERE id = usr FOR NO KEY UPDATE;
	IF u.is_admin THEN
		RETURN;
	END IF;
	IF NOT queue_granted(usr, q.id) THEN
		RAISE EXCEPTION 'queue %: not granted to %', q.name, u.name
		    USING ERRCODE = 'PP403';
	END IF;
	SELECT * INTO h FROM user_holdings(usr, coalesce(skip, 0));
	IF skip IS NULL AND u.max_reservations IS NOT NULL AND
	    h.n >= u.max_reservations THEN
		RAISE EXCEPTION '%: at most % reservations (has %)', u.name,
		    u.max_reservations, h.n USING ERRCODE = 'PP403';
	END IF;
	nh := h.node_hours + nnodes *
	    extract(epoch FROM upper(range) - lower(range)) / 3600;
	IF u.max_node_hours IS NOT NULL AND nh > u.max_node_hours THEN
		RAISE EXCEPTION '%: at most % node-hours (this would make %)',
		    u.name, u.max_node_hours, ceil(nh) USING ERRCODE = 'PP403';
	END IF;
END $$;

-- 002's reserve, with policy_check before anything is taken.
CREATE OR REPLACE FUNCTION reserve(usr bigint, qname text, names text[],
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
	INSERT INTO reservations (user_id, queue_id, during)
	    VALUES (usr, q.id, range) RETURNING id INTO res;
	INSERT INTO reservation_nodes (reservation_id, node_id, during)
	    SELECT res, unnest(ids), range;
	PERFORM licences_take(res, lics, range, true);
	RETURN res;
END $$;

-- 002's extend, with policy_check over the longer range (the holder's
-- own: an admin extending someone's reservation extends it under the
-- holder's grants and limits).
CREATE OR REPLACE FUNCTION extend(usr bigint, res bigint, secs bigint)
RETURNS timestamptz LANGUAGE plpgsql AS $$
DECLARE
	r reservations; q queues; range tstzrange; k text; v integer;
	nn integer;
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
	SELECT count(*)::integer INTO nn FROM reservation_nodes
	    WHERE reservation_id = res;
	PERFORM policy_check(r.user_id, q, nn, range, res);
	PERFORM admission_check(q, nn, range);
	-- the licences held must still be free over the longer range
	FOR k, v IN SELECT l.name, rl.count FROM reservation_licences rl
	    JOIN licences l ON l.id = rl.licence_id WHERE rl.reservation_id = res LOOP
		PERFORM licences_take(res, jsonb_build_object(k, v), range, false);
	END LOOP;
	UPDATE reservation_nodes SET during = range WHERE reservation_id = res;
	UPDATE reservations SET during = range WHERE id = res;
	RETURN upper(range);
END $$;

-- The admin's changes, each naming what it does not find (PP404).
CREATE FUNCTION policy_user(uname text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	id bigint;
BEGIN
	SELECT u.id INTO id FROM users u WHERE u.name = uname;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'user %: no such user', uname USING ERRCODE = 'PP404';
	END IF;
	RETURN id;
END $$;

CREATE FUNCTION policy_group(gname text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	id bigint;
BEGIN
	SELECT g.id INTO id FROM groups g WHERE g.name = gname;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'group %: no such group', gname USING ERRCODE = 'PP404';
	END IF;
	RETURN id;
END $$;

-- Add (or, add false, remove) group gname.
CREATE FUNCTION group_set(gname text, add boolean) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	IF add THEN
		IF EXISTS (SELECT 1 FROM groups WHERE name = gname) THEN
			RAISE EXCEPTION 'group %: exists', gname USING ERRCODE = 'PP409';
		END IF;
		INSERT INTO groups (name) VALUES (gname);
	ELSE
		DELETE FROM groups WHERE id = policy_group(gname);
	END IF;
END $$;

CREATE FUNCTION group_member_set(gname text, uname text, add boolean)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	g bigint := policy_group(gname); u bigint := policy_user(uname);
BEGIN
	IF add THEN
		INSERT INTO group_members VALUES (g, u) ON CONFLICT DO NOTHING;
	ELSE
		DELETE FROM group_members WHERE group_id = g AND user_id = u;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'group %: % is not a member', gname, uname
			    USING ERRCODE = 'PP404';
		END IF;
	END IF;
END $$;

-- Grant queue qname to user uname or group gname (one of them), or
-- revoke it.
CREATE FUNCTION queue_grant_set(qname text, uname text, gname text,
    add boolean) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	q bigint; u bigint; g bigint;
BEGIN
	SELECT id INTO q FROM queues WHERE name = qname;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'queue %: no such queue', qname USING ERRCODE = 'PP404';
	END IF;
	IF uname IS NOT NULL THEN
		u := policy_user(uname);
	ELSE
		g := policy_group(gname);
	END IF;
	IF add THEN
		IF NOT EXISTS (SELECT 1 FROM queue_grants WHERE queue_id = q AND
		    user_id IS NOT DISTINCT FROM u AND
		    group_id IS NOT DISTINCT FROM g) THEN
			INSERT INTO queue_grants VALUES (q, u, g);
		END IF;
	ELSE
		DELETE FROM queue_grants WHERE queue_id = q AND
		    user_id IS NOT DISTINCT FROM u AND
		    group_id IS NOT DISTINCT FROM g;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'queue %: no grant to %', qname,
			    coalesce(uname, '@' || gname) USING ERRCODE = 'PP404';
		END IF;
	END IF;
END $$;
