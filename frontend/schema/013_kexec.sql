-- 013_kexec.sql -- the hand-over by kexec (docs/admin.md, "kexec
-- hand-over"): once the disk is written and reported, the agent loads
-- the deployed system's kernel and jumps to it, skipping the firmware's
-- pass. On by default; off for a node (pipol node set N --kexec off:
-- a machine whose devices do not survive a kexec) or for one deployment
-- (pipol deploy --no-kexec). The agent is told in its order ("kexec":
-- both on), and tells pipold just before the jump (POST /agent/phase
-- {"phase": "handover", "method": "kexec"}), which marks the timeline's
-- handover phase: a node that kexecs never asks /boot/MAC in between.

ALTER TABLE nodes ADD COLUMN kexec boolean NOT NULL DEFAULT true;
ALTER TABLE deployments ADD COLUMN kexec boolean NOT NULL DEFAULT true;
-- how the node went from the agent to the deployed system: NULL, the
-- firmware's reboot (or not yet); 'kexec'
ALTER TABLE deployments ADD COLUMN handover text
	CHECK (handover IN ('kexec'));

-- The agent of deployment dep says it jumps by kexec: only a deploy,
-- only once rebooting (its result reported), only when kexec was on
-- for it; once (a second call changes nothing).
CREATE FUNCTION agent_handover(dep bigint, how text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	d deployments; on_node boolean;
BEGIN
	SELECT * INTO d FROM deployments WHERE id = dep FOR UPDATE;
	SELECT kexec INTO on_node FROM nodes WHERE id = d.node_id;
	IF d.id IS NULL OR d.kind <> 'deploy' OR d.state <> 'rebooting' THEN
		RAISE EXCEPTION 'deployment %: the hand-over follows the '
		    'result (rebooting), not %', dep, d.state
		    USING ERRCODE = 'PP409';
	END IF;
	IF NOT (d.kexec AND on_node) THEN
		RAISE EXCEPTION 'deployment %: kexec is off for it', dep
		    USING ERRCODE = 'PP409';
	END IF;
	IF d.handover IS NULL THEN
		UPDATE deployments SET handover = how,
		    updated = clock_timestamp() WHERE id = dep;
		PERFORM phase_mark(dep, 'handover');
	END IF;
END $$;
