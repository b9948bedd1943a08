-- 007_agent_phase.sql -- the agent's two phases (docs/protocol.md,
-- "Trust").
--
-- A deployment's agent starts in the boot phase: its token (boot_mint)
-- opens the order, which holds the site's post-install scripts. Once
-- they ran, the agent trades that token for a user-phase one
-- (agent_phase, POST /agent/phase) before the user's rc scripts run:
-- the boot token dies, and the user-phase token opens progress,
-- result and log, never the order again. token_phase says which the
-- deployment's token_hash is.
--
-- deployment_logs.site: a line of a site script's run, shown to
-- admins only (their bodies and output may hold the site's secrets).

ALTER TABLE deployments ADD COLUMN token_phase text NOT NULL DEFAULT 'boot'
    CHECK (token_phase IN ('boot', 'user'));
ALTER TABLE deployment_logs ADD COLUMN site boolean NOT NULL DEFAULT false;

-- The boot-phase agent of deployment dep hands over: hash becomes the
-- deployment's token (the user phase), the boot token dies. Only once,
-- only for a deploy in postinstall (the order was read and the disk
-- written); anything else is refused (PP409) and changes nothing.
CREATE FUNCTION agent_phase(dep bigint, hash bytea) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	d deployments;
BEGIN
	SELECT * INTO d FROM deployments WHERE id = dep FOR UPDATE;
	IF NOT FOUND OR d.token_phase <> 'boot' THEN
		RAISE EXCEPTION 'deployment %: already in the user phase', dep
		    USING ERRCODE = 'PP409';
	END IF;
	IF d.kind <> 'deploy' OR d.state <> 'postinstall' THEN
		RAISE EXCEPTION 'deployment %: the user phase begins in '
		    'postinstall, not in %', dep, d.state USING ERRCODE = 'PP409';
	END IF;
	UPDATE deployments SET token_hash = hash, token_phase = 'user',
	    updated = clock_timestamp() WHERE id = dep;
END $$;
