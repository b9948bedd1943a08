# pipold_lib.sh -- sourced after lib.sh by the tests that run a real
# pipold on loopback with its embedded PostgreSQL under $T/state/pg.
# Only what the test started is stopped: pipold by its pid, the cluster
# by its data folder, and first whatever the test's own extra_cleanup
# function stops, when it defines one.
D=$B/pipold A=$B/pipol-agent
chmod 755 "$T"	# the postgres user must reach $T/state/pg
PORT=$(free_port)
U=http://127.0.0.1:$PORT
DPID=
# a test's own cleanup goes in a function extra_cleanup, run first
trap 'declare -F extra_cleanup > /dev/null && extra_cleanup;
    [ -n "$DPID" ] && kill "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null;
    runuser -u postgres -- /usr/lib/postgresql/*/bin/pg_ctl -D "$T/state/pg/data" -m immediate stop >/dev/null 2>&1;
    rm -rf "$T"' EXIT

start_pipold() {
	"$D" --listen 127.0.0.1:$PORT "$@" >> "$T/pipold.log" 2>&1 &
	DPID=$!
	for _ in $(seq 300); do curl -sf "$U/health" >/dev/null && return 0; sleep 0.1; done
	return 1
}
# stop_pipold: SIGTERM, exit 0, and no sanitizer report in its log
stop_pipold() {
	local rc
	kill "$DPID" && wait "$DPID"; rc=$?; DPID=
	equal "pipold: SIGTERM, exit 0" $rc 0
	grep -qE 'AddressSanitizer|LeakSanitizer|runtime error' "$T/pipold.log" &&
	    { notok "pipold: no sanitizer report"; grep -A12 -m3 -E 'Sanitizer|runtime error' "$T/pipold.log" >&2; } ||
	    ok "pipold: no sanitizer report"
}
sql() { psql -X -q -t -A -h "$T/state/pg" -U pipol -d pipol -c "$1" 2>&1; }
# new_user NAME [--admin]: its token
new_user() { "$D" --add-user "$@"; }
# as TOKEN pipol ARGS...
as() { local t=$1; shift; env PIPOL_SERVER="$U" PIPOL_TOKEN="$t" "$B/pipol" "$@"; }
# api TOKEN METHOD PATH [BODY]: prints the HTTP status, the body in $T/api.out
api() {
	curl -s -o "$T/api.out" -w '%{http_code}' -X "$2" -H "Authorization: Bearer $1" \
	    -H 'Content-Type: application/json' ${4+--data-binary "$4"} "$U$3"
}
