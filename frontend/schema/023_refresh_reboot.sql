-- 023_refresh_reboot.sql -- a refresh reboots its node between the
-- update and the test (issue 14 item 6), on a bare deployment.
--
-- The node's job hook (initrd/postinst_config.c) runs a refresh's run
-- in two phases, PIPOL_JOB_PHASE=update, then a reboot, then
-- PIPOL_JOB_PHASE=test, so that the test sees the updated system as it
-- boots (a new kernel, a changed init); its order (agent_api.c) names
-- no user, keys, hostname or script: the disk is captured into the
-- image's next version and must hold nothing of the admin who asked.
-- Without a phase (a hook of before this change) the argument runs the
-- update then the test in one go, as 018's did. 200 still says the
-- update failed.

CREATE OR REPLACE FUNCTION refresh_argv(upd text, tst text) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
	SELECT jsonb_build_array('/bin/sh', '-c', 'case ${PIPOL_JOB_PHASE:-} '
	    'in update) sh -c "$1" || exit 200; echo "pipol-refresh: update '
	    'done"; exit 0 ;; test) exec sh -c "$2" ;; esac; sh -c "$1" || '
	    'exit 200; echo "pipol-refresh: update done"; exec sh -c "$2"',
	    'pipol-refresh', upd, tst)
$$;
