-- 010_wipe.sql -- the disk wiped at a reservation's end, before the
-- next user (docs/admin.md, "End of a reservation"). A node with wipe
-- set gets the end action 'wipe' instead of 'off': pipold (resv_end.c)
-- makes a deployment of kind wipe for it and power-cycles it into the
-- deployment environment, whose agent wipes the disk (initrd/wipe.c)
-- and reports ready; the row then becomes an 'off' and the node is
-- powered off, still parked. While the row is there, a deployment onto
-- the node is refused (resv_end_deploy).

ALTER TABLE nodes ADD COLUMN wipe boolean NOT NULL DEFAULT false;

ALTER TABLE deployments DROP CONSTRAINT deployments_kind_check;
ALTER TABLE deployments ADD CONSTRAINT deployments_kind_check CHECK (kind IN
	('deploy', 'capture', 'wipe'));

ALTER TABLE node_end_actions DROP CONSTRAINT node_end_actions_action_check;
ALTER TABLE node_end_actions ADD CONSTRAINT node_end_actions_action_check
	CHECK (action IN ('off', 'wipe'));
-- the wipe deployment of this try, and when it must have ended
ALTER TABLE node_end_actions ADD COLUMN deployment_id bigint
	REFERENCES deployments ON DELETE SET NULL;
ALTER TABLE node_end_actions ADD COLUMN deadline timestamptz;

-- As in 006, the action by the node's wipe setting. A later end does
-- not touch a wipe under way, and never turns a queued wipe into a
-- mere off: the data of the first user is still there.
CREATE OR REPLACE FUNCTION reservation_end() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF OLD.state = 'active' AND NEW.state IN ('released', 'expired') THEN
		UPDATE nodes SET boot_mode = 'park' WHERE id IN
		    (SELECT reservation_end_nodes(NEW.id));
		INSERT INTO node_end_actions (node_id, reservation_id, action)
		    SELECT n.id, NEW.id, CASE WHEN n.wipe THEN 'wipe' ELSE
		    'off' END FROM nodes n WHERE n.id IN (SELECT
		    reservation_end_nodes(NEW.id))
		    ON CONFLICT (node_id) DO UPDATE SET reservation_id =
		    excluded.reservation_id, action = CASE WHEN
		    node_end_actions.action = 'wipe' THEN 'wipe' ELSE
		    excluded.action END, tries = 0, lease_until = NULL,
		    next_at = now(), last_error = NULL, created = now()
		    WHERE node_end_actions.deployment_id IS NULL;
	END IF;
	RETURN NEW;
END $$;

-- As in 002, but a wipe, done or failed, leaves its node parked: it
-- never boots the disk it wiped, nor the rescue environment.
CREATE OR REPLACE FUNCTION deploy_advance(dep bigint, st text, why text)
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
			UPDATE nodes n SET boot_mode = CASE WHEN d.kind =
			    'wipe' THEN 'park' WHEN st = 'ready' THEN 'local'
			    ELSE 'rescue' END FROM deployments d WHERE d.id =
			    dep AND n.id = d.node_id AND n.boot_mode = 'deploy';
		END IF;
	END IF;
	RETURN moved;
END $$;

-- As in 005, and a wipe: writing once the order was read, ready only
-- from writing (the agent said it began), never postinstall or
-- rebooting.
CREATE OR REPLACE FUNCTION agent_advance(dep bigint, st text, why text)
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
		d.state = 'rebooting' WHEN 'wipe' THEN d.state = 'writing'
		ELSE d.image_version IS NOT NULL END
	    ELSE false END;
	IF allowed THEN
		RETURN deploy_advance(dep, st, why);
	END IF;
	RAISE EXCEPTION 'deployment %: % after %: not a move an agent may make',
	    dep, st, d.state USING ERRCODE = 'PP409';
END $$;

-- Start the wipe of node nid for the row claimed at try (resv_end.c):
-- a deployment of kind wipe, the node in the deployment's hands until
-- it ends, the row bound to it with its deadline. The deployment's id;
-- 0 when the row is no longer the one claimed. A deployment already in
-- flight on the node (an admin's capture) fails it: unique violation.
CREATE FUNCTION wipe_start(nid bigint, res bigint, try integer, secs integer)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	dep bigint;
BEGIN
	PERFORM 1 FROM node_end_actions WHERE node_id = nid AND
	    reservation_id = res AND tries = try AND action = 'wipe' AND
	    deployment_id IS NULL FOR UPDATE;
	IF NOT FOUND THEN
		RETURN 0;
	END IF;
	INSERT INTO deployments (node_id, kind, image_name)
	    VALUES (nid, 'wipe', 'wipe') RETURNING id INTO dep;
	INSERT INTO deployment_transitions (deployment_id, state)
	    VALUES (dep, 'pending');
	UPDATE nodes SET boot_mode = 'deploy' WHERE id = nid;
	UPDATE node_end_actions SET deployment_id = dep, lease_until = NULL,
	    last_error = NULL, deadline = now() + make_interval(secs => secs)
	    WHERE node_id = nid;
	RETURN dep;
END $$;

-- The wipes under way that ended, or ran past their deadline (failed
-- now: a node that never reports). Ready: the row becomes an 'off',
-- due now (the node is powered off, parked). Failed: tried again after
-- a backoff, up to tries_max; then kept, never due, so that deploys
-- stay refused until an admin acts (pipol node set --wipe). Each
-- outcome a node.end event. The number of rows settled.
CREATE FUNCTION wipe_watch(tries_max integer, backoff_secs integer)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
	r record; n integer := 0; d deployments; last boolean;
BEGIN
	FOR r IN SELECT a.*, nd.name FROM node_end_actions a JOIN nodes nd ON
	    nd.id = a.node_id WHERE a.action = 'wipe' AND a.deployment_id IS
	    NOT NULL ORDER BY a.node_id FOR UPDATE OF a SKIP LOCKED LOOP
		SELECT * INTO d FROM deployments WHERE id = r.deployment_id
		    FOR UPDATE;
		IF d.state NOT IN ('ready', 'failed') AND r.deadline < now() THEN
			PERFORM deploy_advance(d.id, 'failed', 'no wipe report '
			    'within the deadline');
			SELECT * INTO d FROM deployments WHERE id = d.id;
		END IF;
		CONTINUE WHEN d.state NOT IN ('ready', 'failed');
		last := d.state = 'failed' AND r.tries >= tries_max;
		IF d.state = 'ready' THEN
			UPDATE node_end_actions SET action = 'off', tries = 0,
			    deployment_id = NULL, deadline = NULL, next_at =
			    now(), last_error = NULL WHERE node_id = r.node_id;
		ELSE
			UPDATE node_end_actions SET deployment_id = NULL,
			    deadline = NULL, last_error = d.reason, next_at =
			    CASE WHEN last THEN 'infinity' ELSE now() +
			    make_interval(secs => backoff_secs) END
			    WHERE node_id = r.node_id;
		END IF;
		INSERT INTO events (actor, kind, detail) VALUES ('pipold',
		    'node.end', jsonb_build_object('node', r.name,
		    'reservation', r.reservation_id, 'action', 'wipe',
		    'result', CASE WHEN d.state = 'ready' THEN 'done' WHEN
		    last THEN 'given up' ELSE 'failed' END, 'try', r.tries,
		    'deployment', d.id, 'message', coalesce(d.reason,
		    'the disk reads as zeros')));
		n := n + 1;
	END LOOP;
	RETURN n;
END $$;
