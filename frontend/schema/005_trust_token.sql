-- 005_trust_token.sql -- trust at the node boundary (docs/protocol.md,
-- "Trust").
--
-- Deployments and reservations cannot diverge: the deploy path locks
-- its reservation (api_deploy.c); the reaper also fails every
-- deployment in flight whose reservation is no longer active, however
-- it got there.

CREATE OR REPLACE FUNCTION reservations_expire() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
	r record; n integer := 0;
BEGIN
	FOR r IN SELECT id FROM reservations WHERE state = 'active'
	    AND upper(during) <= now() ORDER BY id FOR UPDATE SKIP LOCKED LOOP
		UPDATE reservations SET state = 'expired' WHERE id = r.id;
		UPDATE reservation_nodes SET live = false
		    WHERE reservation_id = r.id;
		PERFORM deploy_advance(d.id, 'failed', 'reservation ' || r.id ||
		    ' ended') FROM deployments d WHERE d.reservation_id = r.id
		    AND d.state NOT IN ('ready', 'failed');
		INSERT INTO events (actor, kind, detail) VALUES ('pipold',
		    'reservation.expire', jsonb_build_object('id', r.id));
		n := n + 1;
	END LOOP;
	-- orphans: in flight under a reservation released or expired
	FOR r IN SELECT d.id, d.reservation_id, rs.state FROM deployments d
	    JOIN reservations rs ON rs.id = d.reservation_id
	    WHERE d.state NOT IN ('ready', 'failed') AND rs.state <> 'active'
	    ORDER BY d.id FOR UPDATE OF d SKIP LOCKED LOOP
		PERFORM deploy_advance(r.id, 'failed', 'reservation ' ||
		    r.reservation_id || ' ' || r.state);
		INSERT INTO events (actor, kind, detail) VALUES ('pipold',
		    'deploy.orphan', jsonb_build_object('deployment', r.id,
		    'reservation', r.reservation_id));
	END LOOP;
	RETURN n;
END $$;

-- An agent token is a one-time credential bound to its node. A boot
-- cycle pipold started (the power cycle after a deploy or a capture is
-- made, a power on, reset or cycle through POST
-- /api/nodes/NAME/power) arms the deployment in flight; the first
-- GET /boot/MAC of that cycle, from the node's leased address when it
-- has one, disarms it and takes the token (boot_mint). token_addr: the
-- address that fetched it; the token opens nothing from any other.
ALTER TABLE deployments ADD COLUMN boot_armed boolean NOT NULL DEFAULT false;
ALTER TABLE deployments ADD COLUMN token_addr inet;

-- Arm the deployment in flight on node nid, when it is not yet past
-- writing (later states boot the disk, and need no token). true when
-- there was one.
CREATE FUNCTION boot_arm(nid bigint) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
	UPDATE deployments SET boot_armed = true WHERE node_id = nid
	    AND state IN ('pending', 'booting', 'fetching', 'writing');
	RETURN FOUND;
END $$;

-- The deploy script's token for node nid, asked from addr: its hash
-- is kept with addr, the previous token dies, the deployment moves to
-- booting. Returns the deployment's id; 0 when no deployment in
-- flight needs a token (the node boots as its mode says); -1 when one
-- does but gets none now: its cycle is not armed (the node booted by
-- itself, or asked twice), or addr is not the node's leased address.
CREATE FUNCTION boot_mint(nid bigint, hash bytea, addr inet)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	d deployments; leased inet;
BEGIN
	SELECT * INTO d FROM deployments WHERE node_id = nid
	    AND state IN ('pending', 'booting', 'fetching', 'writing')
	    FOR UPDATE;
	IF NOT FOUND THEN
		RETURN 0;
	END IF;
	SELECT ip INTO leased FROM nodes WHERE id = nid;
	IF NOT d.boot_armed OR addr IS NULL OR
	    (leased IS NOT NULL AND host(leased) <> host(addr)) THEN
		RETURN -1;
	END IF;
	UPDATE deployments SET token_hash = hash, token_addr = addr,
	    boot_armed = false, updated = clock_timestamp() WHERE id = d.id;
	PERFORM deploy_advance(d.id, 'booting', NULL);
	RETURN d.id;
END $$;

-- What an agent may report: forward moves the state machine allows
-- from where its deployment is. failed always; a state already passed
-- changes nothing (a report sent again); fetching from booting (the
-- order); writing, postinstall, rebooting only once the order was read;
-- ready only from rebooting (a deploy: the deployed system's first
-- boot), or, for a capture, once its draft is made. Anything else is
-- refused (PP409) and changes nothing. true when it moved.
CREATE FUNCTION agent_advance(dep bigint, st text, why text)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
	d deployments; ordered boolean; allowed boolean;
BEGIN
	SELECT * INTO d FROM deployments WHERE id = dep;
	IF NOT FOUND OR st = 'failed' OR d.state IN ('ready', 'failed') OR
	    deploy_rank(st) <= deploy_rank(d.state) THEN
		RETURN deploy_advance(dep, st, why);
	END IF;
	ordered := deploy_rank(d.state) >= deploy_rank('fetching');
	allowed := CASE st
	    WHEN 'fetching' THEN d.state = 'booting'
	    WHEN 'writing' THEN ordered
	    WHEN 'postinstall' THEN d.kind = 'deploy' AND ordered
	    WHEN 'rebooting' THEN d.kind = 'deploy' AND ordered
	    WHEN 'ready' THEN CASE d.kind WHEN 'deploy' THEN
		d.state = 'rebooting' ELSE d.image_version IS NOT NULL END
	    ELSE false END;
	IF allowed THEN
		RETURN deploy_advance(dep, st, why);
	END IF;
	RAISE EXCEPTION 'deployment %: % after %: not a move an agent may make',
	    dep, st, d.state USING ERRCODE = 'PP409';
END $$;
