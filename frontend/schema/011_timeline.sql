-- 011_timeline.sql -- the time of each phase of a deployment, as pipold
-- sees it (docs/protocol.md, "The timeline"), so a site sees where its
-- minutes go on its own hardware.
--
-- A phase is recorded once, the first time it is seen (ON CONFLICT DO
-- NOTHING): a report sent again, a second boot cycle, change nothing.
-- The phases that follow a state change are recorded by triggers on
-- deployments, in the transaction of that change; power_on and
-- handover, which change no state, by pipold where it sees them
-- (timeline_node_mark).
--
--   created          the deployment row (the deploy's transaction)
--   power_on         pipold's power cycle of the node returned
--   boot_script      the GET /boot/MAC that minted the token (booting)
--   agent_started    the agent's first call: its order read (fetching)
--   written          the state left writing: the disk written, its
--                    chunks checked and, with --verify, read back
--   postinstall_done the agent's work done: rebooting posted
--   handover         the node's next GET /boot/MAC, answered with its
--                    own disk: the firmware rebooted it
--   ready            the deployed system's first boot said ready
--   failed           failed, from wherever it was

CREATE TABLE deployment_phases (
	deployment_id	bigint NOT NULL REFERENCES deployments ON DELETE CASCADE,
	phase		text NOT NULL CHECK (phase IN ('created', 'power_on',
			    'boot_script', 'agent_started', 'written',
			    'postinstall_done', 'handover', 'ready', 'failed')),
	at		timestamptz NOT NULL DEFAULT clock_timestamp(),
	PRIMARY KEY (deployment_id, phase)
);

-- The order of the phases (failed last: it ends any of them).
CREATE FUNCTION phase_rank(p text) RETURNS integer
LANGUAGE sql IMMUTABLE AS $$
	SELECT array_position(ARRAY['created', 'power_on', 'boot_script',
	    'agent_started', 'written', 'postinstall_done', 'handover',
	    'ready', 'failed'], p)
$$;

-- Record phase p of deployment dep now, unless it was seen before.
CREATE FUNCTION phase_mark(dep bigint, p text) RETURNS void
LANGUAGE sql AS $$
	INSERT INTO deployment_phases (deployment_id, phase)
	    VALUES (dep, p) ON CONFLICT DO NOTHING
$$;

CREATE FUNCTION phase_created() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO deployment_phases VALUES (NEW.id, 'created', NEW.created)
	    ON CONFLICT DO NOTHING;
	RETURN NULL;
END $$;

CREATE TRIGGER deployment_phase_created AFTER INSERT ON deployments
	FOR EACH ROW EXECUTE FUNCTION phase_created();

-- The phases a state change means. written: the state left fetching
-- or writing forward (a deploy to postinstall, or to rebooting when
-- bare; a capture to ready: its disk read and sent).
CREATE FUNCTION phase_of_state() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF OLD.state IN ('fetching', 'writing') AND
	    NEW.state IN ('postinstall', 'rebooting', 'ready') THEN
		PERFORM phase_mark(NEW.id, 'written');
	END IF;
	PERFORM phase_mark(NEW.id, p) FROM (SELECT CASE NEW.state
	    WHEN 'booting' THEN 'boot_script'
	    WHEN 'fetching' THEN 'agent_started'
	    WHEN 'rebooting' THEN 'postinstall_done'
	    WHEN 'ready' THEN 'ready'
	    WHEN 'failed' THEN 'failed' END AS p) s WHERE p IS NOT NULL;
	RETURN NULL;
END $$;

CREATE TRIGGER deployment_phase_state AFTER UPDATE OF state ON deployments
	FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state)
	EXECUTE FUNCTION phase_of_state();

-- What pipold sees of node nid with no state change: power_on (its
-- power cycle returned), for the deployment in flight not yet booted;
-- handover (its GET /boot/MAC answered with its disk), for the one
-- rebooting, and only from the node's leased address when it has one:
-- anyone on the boot network may ask for any MAC. true when recorded.
CREATE FUNCTION timeline_node_mark(nid bigint, p text, addr inet)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
	dep bigint; leased inet;
BEGIN
	SELECT ip INTO leased FROM nodes WHERE id = nid;
	SELECT id INTO dep FROM deployments WHERE node_id = nid AND
	    CASE p WHEN 'power_on' THEN state = 'pending'
	    WHEN 'handover' THEN state = 'rebooting' AND (leased IS NULL OR
		host(leased) = host(addr))
	    ELSE false END;
	IF dep IS NULL THEN
		RETURN false;
	END IF;
	PERFORM phase_mark(dep, p);
	RETURN true;
END $$;

-- The timeline of deployment dep, in order: every phase with its time
-- (at: null when not reached; t: seconds since the epoch); failed only
-- when reached; a capture has no post-install nor hand-over.
CREATE FUNCTION deployment_timeline(dep bigint) RETURNS json
LANGUAGE sql STABLE AS $$
	SELECT json_agg(json_build_object('phase', ph.p, 'at', x.at, 't',
	    extract(epoch FROM x.at)) ORDER BY phase_rank(ph.p))
	FROM deployments d
	CROSS JOIN unnest(ARRAY['created', 'power_on', 'boot_script',
	    'agent_started', 'written', 'postinstall_done', 'handover',
	    'ready', 'failed']) AS ph(p)
	LEFT JOIN deployment_phases x ON x.deployment_id = d.id AND
	    x.phase = ph.p
	WHERE d.id = dep AND (ph.p <> 'failed' OR x.at IS NOT NULL) AND
	    (d.kind = 'deploy' OR ph.p NOT IN ('postinstall_done', 'handover'))
$$;
