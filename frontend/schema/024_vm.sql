-- 024_vm.sql -- virtual nodes on VM hosts (issue 16): a host's capacity
-- (vCPUs, memory, disk), the nodes of power driver "vm" that pipold
-- runs there as QEMU machines (power_vm.c), each on a qcow2 overlay of
-- the deployed version's read-only base (vm.c, imagestore/store_bases.c).
--
-- A virtual node is a node like any other: reserved, deployed, ended by
-- the same exclusion constraint, admission rules and reaper. What is
-- its own is here: the host it runs on and what it takes of it
-- (power_params "host", "cpus", "mem" and "disk", MiB), counted against
-- the host's capacity whenever a node is added or changed, so that the
-- machines a host carries never ask more than it has; and a deployment
-- flag, preloaded: the node's disk is an overlay on the version's base,
-- so its agent writes nothing and goes straight to the post-install.

CREATE TABLE vm_hosts (
	name		text PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,31}$'),
	-- the bridge of the boot network the machines' taps join
	bridge		text NOT NULL CHECK (bridge ~ '^[A-Za-z0-9_.-]{1,15}$'),
	cpus		integer NOT NULL CHECK (cpus BETWEEN 1 AND 4096),
	mem_mib		integer NOT NULL CHECK (mem_mib BETWEEN 64 AND 16777216),
	disk_mib	integer NOT NULL CHECK (disk_mib BETWEEN 64 AND 2147483647),
	created		timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE nodes DROP CONSTRAINT nodes_power_driver_check;
ALTER TABLE nodes ADD CONSTRAINT nodes_power_driver_check CHECK
    (power_driver IN ('qemu', 'ipmi', 'manual', 'vm'));

ALTER TABLE deployments ADD COLUMN preloaded boolean NOT NULL DEFAULT false;

-- What the vm nodes of host h take of it, but node skip's.
CREATE FUNCTION vm_host_used(h text, skip bigint, OUT cpus bigint,
    OUT mem bigint, OUT disk bigint)
LANGUAGE sql STABLE AS $$
	SELECT coalesce(sum((power_params->>'cpus')::integer), 0),
	    coalesce(sum((power_params->>'mem')::integer), 0),
	    coalesce(sum((power_params->>'disk')::integer), 0)
	FROM nodes WHERE power_driver = 'vm' AND power_params->>'host' = h
	    AND id IS DISTINCT FROM skip
$$;

-- A vm node's host exists and has room for it (power_vm.c checked the
-- numbers' form); the message says what is given and what is asked. A
-- vm node has no wipe: its disk is discarded at each end.
CREATE FUNCTION vm_node_fits() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	h vm_hosts; u record; c integer; m integer; d integer;
BEGIN
	IF NEW.power_driver <> 'vm' THEN
		RETURN NEW;
	END IF;
	IF NEW.wipe THEN	-- its disk is discarded at each end
		RAISE EXCEPTION 'node %: a virtual node is not wiped: its disk is '
		    'discarded at the end of each reservation', NEW.name
		    USING ERRCODE = 'PP409';
	END IF;
	SELECT * INTO h FROM vm_hosts WHERE name = NEW.power_params->>'host'
	    FOR UPDATE;	-- two nodes added at once are counted one by one
	IF NOT FOUND THEN
		RAISE EXCEPTION 'node %: vm host %: no such host', NEW.name,
		    NEW.power_params->>'host' USING ERRCODE = 'PP404';
	END IF;
	c := (NEW.power_params->>'cpus')::integer;
	m := (NEW.power_params->>'mem')::integer;
	d := (NEW.power_params->>'disk')::integer;
	SELECT * INTO u FROM vm_host_used(h.name, NEW.id);
	IF u.cpus + c > h.cpus THEN
		RAISE EXCEPTION 'node %: vm host %: % of its % vCPUs given, % asked',
		    NEW.name, h.name, u.cpus, h.cpus, c USING ERRCODE = 'PP409';
	ELSIF u.mem + m > h.mem_mib THEN
		RAISE EXCEPTION 'node %: vm host %: % of its % MiB of memory given, % asked',
		    NEW.name, h.name, u.mem, h.mem_mib, m USING ERRCODE = 'PP409';
	ELSIF u.disk + d > h.disk_mib THEN
		RAISE EXCEPTION 'node %: vm host %: % of its % MiB of disk given, % asked',
		    NEW.name, h.name, u.disk, h.disk_mib, d USING ERRCODE = 'PP409';
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER nodes_vm_fits BEFORE INSERT OR UPDATE OF power_driver,
    power_params, wipe ON nodes FOR EACH ROW EXECUTE FUNCTION vm_node_fits();

-- A host keeps its capacity above what its nodes take.
CREATE FUNCTION vm_host_holds() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	u record;
BEGIN
	SELECT * INTO u FROM vm_host_used(NEW.name, NULL);
	IF u.cpus > NEW.cpus OR u.mem > NEW.mem_mib OR u.disk > NEW.disk_mib THEN
		RAISE EXCEPTION 'vm host %: its nodes take % vCPUs, % MiB of memory, % MiB of disk',
		    NEW.name, u.cpus, u.mem, u.disk USING ERRCODE = 'PP409';
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER vm_hosts_hold BEFORE UPDATE ON vm_hosts FOR EACH ROW
    EXECUTE FUNCTION vm_host_holds();

-- A host with nodes is not removed.
CREATE FUNCTION vm_host_unused() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM nodes WHERE power_driver = 'vm' AND
	    power_params->>'host' = OLD.name) THEN
		RAISE EXCEPTION 'vm host %: nodes run on it (%)', OLD.name,
		    (SELECT string_agg(name, ', ' ORDER BY name) FROM nodes WHERE
		    power_driver = 'vm' AND power_params->>'host' = OLD.name)
		    USING ERRCODE = 'PP409';
	END IF;
	RETURN OLD;
END $$;
CREATE TRIGGER vm_hosts_unused BEFORE DELETE ON vm_hosts FOR EACH ROW
    EXECUTE FUNCTION vm_host_unused();

-- A node's power parameters as its driver runs with them: a vm node's
-- with its MAC and its host's bridge (never stored: a change of either
-- is seen at the next action).
CREATE FUNCTION node_power(n nodes) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT CASE WHEN n.power_driver = 'vm' THEN n.power_params ||
	    jsonb_build_object('mac', n.mac::text, 'bridge', (SELECT h.bridge
	    FROM vm_hosts h WHERE h.name = n.power_params->>'host'))
	    ELSE n.power_params END
$$;
