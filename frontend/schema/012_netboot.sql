-- 012_netboot.sql -- the deployed system's kernel, initrd and command
-- line, as the agent found them in the written root and uploaded them
-- (docs/protocol.md, "The deployed kernel"), so that pipold can boot a
-- netboot-only node into it at every boot (frontend/netboot.c).
--
-- The files are in STATE/kernels/, named by the SHA-256 pipold
-- computed over what it received (never a client's word); initrd_sha
-- NULL: the kernel boots without one. One row per deployment: a
-- retried upload replaces it, in postinstall only (netboot_record).

CREATE TABLE deployment_kernels (
	deployment_id	bigint PRIMARY KEY REFERENCES deployments
			    ON DELETE CASCADE,
	kernel_sha	text NOT NULL CHECK (kernel_sha ~ '^[0-9a-f]{64}$'),
	kernel_size	bigint NOT NULL CHECK (kernel_size > 0),
	initrd_sha	text CHECK (initrd_sha ~ '^[0-9a-f]{64}$'),
	initrd_size	bigint NOT NULL DEFAULT 0 CHECK (initrd_size >= 0),
	cmdline		text NOT NULL CHECK (length(cmdline) < 2048),
	recorded	timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Record what deployment dep's agent uploaded: only a deploy in
-- postinstall (the disk written, the root mounted); anything else is
-- refused (PP409) and changes nothing. Sent again, it replaces the row.
CREATE FUNCTION netboot_record(dep bigint, ksha text, ksize bigint,
    isha text, isize bigint, cl text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	d deployments;
BEGIN
	SELECT * INTO d FROM deployments WHERE id = dep FOR UPDATE;
	IF NOT FOUND OR d.kind <> 'deploy' OR d.state <> 'postinstall' THEN
		RAISE EXCEPTION 'deployment %: its kernel is taken in '
		    'postinstall, not in %', dep, coalesce(d.state, 'none')
		    USING ERRCODE = 'PP409';
	END IF;
	INSERT INTO deployment_kernels (deployment_id, kernel_sha,
	    kernel_size, initrd_sha, initrd_size, cmdline)
	    VALUES (dep, ksha, ksize, isha, isize, cl)
	    ON CONFLICT (deployment_id) DO UPDATE SET kernel_sha =
	    excluded.kernel_sha, kernel_size = excluded.kernel_size,
	    initrd_sha = excluded.initrd_sha, initrd_size =
	    excluded.initrd_size, cmdline = excluded.cmdline, recorded =
	    clock_timestamp();
END $$;

-- The kernel node nid boots from the network now, asked from addr: the
-- recorded kernel of its current deployment -- its latest, a deploy
-- past writing (rebooting: the hand-over boot; or ready) -- while the
-- node's boot mode is its disk's (local, or deploy once past writing),
-- and only from the node's leased address when it has one. No row
-- otherwise: an older deployment, another address, a node parked or
-- in rescue get nothing.
CREATE FUNCTION netboot_kernel(nid bigint, addr inet)
RETURNS TABLE (deployment_id bigint, kernel_sha text, kernel_size bigint,
    initrd_sha text, initrd_size bigint, cmdline text)
LANGUAGE sql STABLE AS $$
	SELECT k.deployment_id, k.kernel_sha, k.kernel_size, k.initrd_sha,
	    k.initrd_size, k.cmdline
	FROM nodes n
	JOIN LATERAL (SELECT id, kind, state FROM deployments
	    WHERE node_id = n.id ORDER BY id DESC LIMIT 1) d ON true
	JOIN deployment_kernels k ON k.deployment_id = d.id
	WHERE n.id = nid AND n.boot_mode IN ('local', 'deploy') AND
	    d.kind = 'deploy' AND d.state IN ('rebooting', 'ready') AND
	    (n.ip IS NULL OR host(n.ip) = host(addr))
$$;
