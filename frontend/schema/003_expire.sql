-- 003_expire.sql -- the end of a reservation. pipold calls
-- reservations_expire() every few seconds (and at start): reservations
-- whose time is over become 'expired', their nodes' deployments still
-- in flight fail with the reason, and nodes left in the deploy boot
-- mode go back to their disk. Idempotent; safe from several pipold.

CREATE FUNCTION reservations_expire() RETURNS integer
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
	RETURN n;
END $$;

-- Release also ends the deployments still in flight under it.
CREATE OR REPLACE FUNCTION release(usr bigint, res bigint) RETURNS void
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
	PERFORM deploy_advance(d.id, 'failed', 'reservation ' || res ||
	    ' released') FROM deployments d WHERE d.reservation_id = res
	    AND d.state NOT IN ('ready', 'failed');
END $$;
