#!/bin/bash
# pipold under hostile local users and clients (issue 12, items 5, 6):
# its embedded database admits nobody but pipold's own system user, even
# a cluster an earlier pipold made with trust; a killed postmaster is
# started again and /health says the database is down meanwhile. All
# traffic is on loopback; every loop is bounded in count and time.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/pipold_lib.sh"

# two throwaway system users: pipold runs as the first, the second is
# any other local user; removed (after what runs as them) on exit
UA=pipolha$$a UB=pipolha$$b NPID=
extra_cleanup() {
	[ -n "$NPID" ] && kill "$NPID" 2>/dev/null && wait "$NPID" 2>/dev/null
	runuser -u "$UA" -- /usr/lib/postgresql/*/bin/pg_ctl -D "$T/nr/pg/data" \
	    -m immediate stop >/dev/null 2>&1
	userdel "$UA" 2>/dev/null; userdel "$UB" 2>/dev/null
}
useradd --system --no-create-home --shell /usr/sbin/nologin "$UA" &&
    useradd --system --no-create-home --shell /usr/sbin/nologin "$UB" ||
    { notok "throwaway users"; exit 1; }
PG_CTL=$(ls /usr/lib/postgresql/*/bin/pg_ctl | tail -1)
NPORT=$(free_port)
mkdir "$T/nr" && chown "$UA:" "$T/nr"
start_nonroot() {
	runuser -u "$UA" -- "$D" --state "$T/nr" --listen 127.0.0.1:$NPORT \
	    >> "$T/nr.log" 2>&1 &
	NPID=$!
	for _ in $(seq 300); do curl -sf "http://127.0.0.1:$NPORT/health" >/dev/null && return 0; sleep 0.1; done
	return 1
}
stop_nonroot() { kill "$NPID" && wait "$NPID"; NPID=; }
# as_b psql ...: the other user tries the database (as pipol, or as UA)
as_b() {
	runuser -u "$UB" -- psql -X -q -t -A -h "$T/nr/pg" -U "$1" -d pipol \
	    -c 'select 1' 2>&1
}

check "a non-root pipold starts" start_nonroot
equal "STATE/pg is 0700, the non-root pipold's" "$(stat -c '%a %U' "$T/nr/pg")" "700 $UA"
equal "its socket is 0700" "$(stat -c %a "$T/nr/pg/.s.PGSQL.5432")" 700
grep -q trust "$T/nr/pg/data/pg_hba.conf" && notok "no trust in pg_hba.conf" ||
    ok "no trust in pg_hba.conf"
for role in pipol "$UA"; do
	out=$(as_b "$role"); rc=$?
	[ $rc -ne 0 ] && echo "$out" | grep -q 'Permission denied' &&
	    ok "another local user is refused (as $role)" ||
	    { notok "another local user is refused (as $role)"; echo "  exit $rc: $out" >&2; }
done
stop_nonroot

# a cluster as an earlier pipold made it: trust, a folder anyone enters
sed -i '/pipold.conf/d' "$T/nr/pg/data/postgresql.conf"
rm -f "$T/nr/pg/data/pipold.conf"
printf "unix_socket_directories = '%s'\nlisten_addresses = ''\n" "$T/nr/pg" \
    >> "$T/nr/pg/data/postgresql.conf"
echo 'local all all trust' > "$T/nr/pg/data/pg_hba.conf"
chmod 755 "$T/nr/pg"
runuser -u "$UA" -- "$PG_CTL" -D "$T/nr/pg/data" -l "$T/nr/pg/log" -w start >/dev/null 2>&1
equal "the old cluster let another user in" "$(as_b pipol)" 1
runuser -u "$UA" -- "$PG_CTL" -D "$T/nr/pg/data" -m fast -w stop >/dev/null 2>&1
check "pipold starts on the old cluster" start_nonroot
out=$(as_b pipol) && { notok "the old cluster is tightened"; echo "  got: $out" >&2; } ||
    ok "the old cluster is tightened"
equal "its folder 0700 again" "$(stat -c %a "$T/nr/pg")" 700
grep -q trust "$T/nr/pg/data/pg_hba.conf" && notok "trust gone from pg_hba.conf" ||
    ok "trust gone from pg_hba.conf"
stop_nonroot

# supervision: a killed postmaster is started again, /health says so
check "pipold starts" start_pipold
equal "/health: the database is up" "$(curl -s -w ' %{http_code}' "$U/health")" '{"database":"up"} 200'
pm=$(head -1 "$T/state/pg/data/postmaster.pid")
kill -9 "$pm"
down=
for _ in $(seq 100); do
	h=$(curl -s -w ' %{http_code}' "$U/health")
	[ "$h" = '{"error":"database unavailable","database":"down"} 503' ] && { down=1; break; }
	sleep 0.05
done
[ -n "$down" ] && ok "/health: 503 naming the database while it is down" ||
    { notok "/health: 503 naming the database while it is down"; echo "  last: $h" >&2; }
up=
for _ in $(seq 150); do
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$U/health")" = 200 ] && { up=1; break; }
	sleep 0.1
done
[ -n "$up" ] && ok "/health: 200 again" || notok "/health: 200 again"
pm2=$(head -1 "$T/state/pg/data/postmaster.pid")
[ -n "$pm2" ] && [ "$pm2" != "$pm" ] && kill -0 "$pm2" &&
    ok "a new postmaster runs" || notok "a new postmaster runs"
grep -q 'database: not answering: restarting the embedded PostgreSQL' "$T/pipold.log" &&
    grep -q 'PostgreSQL started again' "$T/pipold.log" &&
    ok "the death and the restart are logged" || notok "the death and the restart are logged"
tok=$(new_user boss --admin)
equal "requests served again" "$(curl -s -H "Authorization: Bearer $tok" "$U/api/whoami")" \
    '{"user":"boss","admin":true}'
