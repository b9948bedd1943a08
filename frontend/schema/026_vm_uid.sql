-- 026_vm_uid.sql: a virtual node's power parameters at run time carry
-- its id too: pipold starts its QEMU as uid and gid base + id
-- (power_vm.c, pipold --vm-uid-base), one per machine, never root.
CREATE OR REPLACE FUNCTION node_power(n nodes) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT CASE WHEN n.power_driver = 'vm' THEN n.power_params ||
	    jsonb_build_object('mac', n.mac::text, 'id', n.id::text, 'bridge',
	    (SELECT h.bridge FROM vm_hosts h WHERE h.name =
	    n.power_params->>'host'))
	    ELSE n.power_params END
$$;
