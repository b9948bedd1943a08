-- 017_bmc.sql -- bmc: a per-reservation account on the BMC of each IPMI
-- node (frontend/bmc.c). What pipold last made true on each BMC; the
-- reconcile tick compares it with what should be (bmc_want) and acts.
-- No password is stored: the holder's is derived from a key kept under
-- pipold's state folder and the salt below (bmc.c says why).
CREATE TABLE bmc_accounts (
	node_id		bigint PRIMARY KEY REFERENCES nodes ON DELETE CASCADE,
	-- false until pipold has set the account once: its state unknown
	known		boolean NOT NULL DEFAULT false,
	-- the reservation whose account is enabled now; NULL: disabled
	reservation_id	bigint,
	salt		bytea CHECK (length(salt) = 16),
	applied		timestamptz,
	lease_until	timestamptz,	-- a pipold acting on it until then
	tries		integer NOT NULL DEFAULT 0,	-- failed in a row
	next_at		timestamptz NOT NULL DEFAULT '-infinity',
	last_error	text
);

-- What should be: for every IPMI node, its running reservation (at
-- most one, by the exclusion constraint) or NULL.
CREATE FUNCTION bmc_want(nid bigint) RETURNS bigint
LANGUAGE sql STABLE AS $$
	SELECT r.id FROM reservation_nodes rn JOIN reservations r ON
	    r.id = rn.reservation_id WHERE rn.node_id = nid AND rn.live AND
	    r.state = 'active' AND rn.during @> now() AND r.during @> now()
	ORDER BY r.id LIMIT 1
$$;
