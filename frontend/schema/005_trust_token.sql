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
