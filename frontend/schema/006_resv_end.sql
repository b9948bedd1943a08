-- 006_resv_end.sql -- a reservation's end takes effect on its nodes.
-- When a reservation that had started becomes released or expired, in
-- that same transaction its nodes are parked (boot_mode 'park': their
-- network boot gets ipxe/park.ipxe, which never boots the disk, the
-- user's system) and an end action is queued for each: 'off', through
-- the node's power driver. pipold works the queue (resv_end.c) outside
-- any transaction; the queue is a table, so a pipold that dies loses
-- nothing, and a lease keeps two pipold from acting on one row.

ALTER TABLE nodes DROP CONSTRAINT nodes_boot_mode_check;
ALTER TABLE nodes ADD CONSTRAINT nodes_boot_mode_check CHECK (boot_mode IN
	('local', 'deploy', 'kernel', 'rescue', 'park'));

-- at most one action queued per node: a later end replaces it
CREATE TABLE node_end_actions (
	node_id		bigint PRIMARY KEY REFERENCES nodes ON DELETE CASCADE,
	reservation_id	bigint NOT NULL REFERENCES reservations ON DELETE CASCADE,
	action		text NOT NULL DEFAULT 'off' CHECK (action IN ('off')),
	tries		integer NOT NULL DEFAULT 0 CHECK (tries >= 0),
	lease_until	timestamptz,	-- a pipold is acting until then
	next_at		timestamptz NOT NULL DEFAULT now(),	-- backoff
	last_error	text,
	created		timestamptz NOT NULL DEFAULT now()
);

-- The nodes of reservation res that it held when it ended: those of a
-- reservation that had started, and that no other running reservation
-- holds now (back-to-back reservations: the next holder's node is left
-- alone).
CREATE FUNCTION reservation_end_nodes(res bigint) RETURNS SETOF bigint
LANGUAGE sql STABLE AS $$
	SELECT rn.node_id FROM reservation_nodes rn JOIN reservations r ON
	    r.id = rn.reservation_id WHERE r.id = res AND
	    lower(r.during) <= now() AND NOT EXISTS (SELECT 1 FROM
	    reservation_nodes o JOIN reservations orr ON orr.id =
	    o.reservation_id WHERE o.node_id = rn.node_id AND orr.id <> res
	    AND o.live AND orr.state = 'active' AND o.during @> now())
$$;

CREATE FUNCTION reservation_end() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF OLD.state = 'active' AND NEW.state IN ('released', 'expired') THEN
		UPDATE nodes SET boot_mode = 'park' WHERE id IN
		    (SELECT reservation_end_nodes(NEW.id));
		INSERT INTO node_end_actions (node_id, reservation_id)
		    SELECT n, NEW.id FROM reservation_end_nodes(NEW.id) n
		    ON CONFLICT (node_id) DO UPDATE SET reservation_id =
		    excluded.reservation_id, tries = 0, lease_until = NULL,
		    next_at = now(), last_error = NULL, created = now();
	END IF;
	RETURN NEW;
END $$;

CREATE TRIGGER reservations_end AFTER UPDATE OF state ON reservations
	FOR EACH ROW EXECUTE FUNCTION reservation_end();
