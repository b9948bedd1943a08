#!/bin/bash
# pipold under hostile local users and clients (issue 12, items 5, 6):
# its embedded database admits nobody but pipold's own system user, even
# a cluster an earlier pipold made with trust; a killed postmaster is
# started again and /health says the database is down meanwhile (or,
# when it cannot be, pipold exits 5). Slow sockets past the per-address
# limit, slow headers, endless and oversized bodies, users' requests
# stuck on a locked table, a store lock held by gc: /boot and /agent
# answer in under a second all along. Scripts past a kind's limits are
# refused. All traffic is on loopback; every loop is bounded in count
# and time.
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
# /health may say 200 a moment before pg_ctl -w returns and it is logged
for _ in $(seq 30); do grep -q 'PostgreSQL started again' "$T/pipold.log" && break; sleep 0.1; done
grep -q 'database: not answering: restarting the embedded PostgreSQL' "$T/pipold.log" &&
    grep -q 'PostgreSQL started again' "$T/pipold.log" &&
    ok "the death and the restart are logged" || notok "the death and the restart are logged"
tok=$(new_user boss --admin)
equal "requests served again" "$(curl -s -H "Authorization: Bearer $tok" "$U/api/whoami")" \
    '{"user":"boss","admin":true}'

# hostile clients, from addresses of their own on loopback (127.0.0.2,
# .3): the per-address limit must not refuse the nodes on 127.0.0.1
cat > "$T/hostile.py" <<'PY'
import socket, sys, time
mode, port, src = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def conn():
    s = socket.socket()
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return s
def alive(s):
    s.setblocking(False)
    try:
        return s.recv(1) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        s.setblocking(True)
if mode == "slowloris":		# N sockets, a header byte each second
    n, secs = int(sys.argv[4]), float(sys.argv[5])
    socks = [conn() for _ in range(n)]
    req = b"GET /boot/52-54-00-00-00-09 HTTP/1.1\r\nHost: x\r\nX-a: "
    t0, i = time.time(), 0
    time.sleep(0.5)
    print("open after 0.5 s:", sum(alive(s) for s in socks), flush=True)
    while time.time() - t0 < secs:
        for s in socks:
            try:
                s.send(req[i:i + 1] if i < len(req) else b"a")
            except OSError:
                pass
        i += 1
        time.sleep(1)
    print("open after %d s:" % secs, sum(alive(s) for s in socks))
elif mode == "chunked":		# an endless chunked body, until cut
    path, limit = sys.argv[4], int(sys.argv[5])
    s = conn()
    s.send(("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
            "\r\nTransfer-Encoding: chunked\r\n\r\n" % path).encode())
    sent, t0, piece = 0, time.time(), b"1000\r\n" + b"x" * 4096 + b"\r\n"
    try:
        while sent < limit and time.time() - t0 < 10:
            s.send(piece)
            sent += 4096
    except OSError:
        pass
    print("cut" if sent < limit else "not cut", sent)
PY

kill "$DPID" && wait "$DPID"; DPID=
check "pipold --ip-connections 16" start_pipold --ip-connections 16
timed() {	# timed URL [CURL ARGS]: "STATUS SECONDS<1"
	curl -s -o /dev/null -w '%{http_code} %{time_total}' "${@:2}" "$U$1" |
	    awk '{ print $1, ($2 < 1 ? "fast" : "slow " $2) }'
}
python3 "$T/hostile.py" slowloris $PORT 127.0.0.2 32 13 > "$T/slow.out" 2>&1 &
SPID=$!
for _ in $(seq 50); do [ -s "$T/slow.out" ] && break; sleep 0.1; done
equal "2x the per-address limit: half refused at once" "$(head -1 "$T/slow.out")" "open after 0.5 s: 16"
equal "meanwhile /boot/MAC answers in under a second" "$(timed /boot/52-54-00-00-00-01)" "200 fast"
equal "meanwhile /agent/order answers in under a second" \
    "$(timed /agent/order -H 'Authorization: Bearer 0000')" "401 fast"
equal "the slow address gets no more" \
    "$(curl -s -o /dev/null -w '%{http_code}' --interface 127.0.0.2 "$U/boot/52-54-00-00-00-01")" 000
python3 "$T/hostile.py" chunked $PORT 127.0.0.3 /api/users 67108864 > "$T/chunk.out" 2>&1
# what the kernel took: socket buffers on loopback hold a few MiB
grep -qE '^cut [0-9]+$' "$T/chunk.out" && [ "$(cut -d' ' -f2 "$T/chunk.out")" -lt 16777216 ] &&
    ok "an endless chunked body is cut at the route's limit" ||
    { notok "an endless chunked body is cut at the route's limit"; cat "$T/chunk.out" >&2; }
python3 "$T/hostile.py" chunked $PORT 127.0.0.3 /boot/52-54-00-00-00-01 67108864 > "$T/chunk.out" 2>&1
grep -qE '^cut [0-9]+$' "$T/chunk.out" && ok "a chunked body to a GET is cut" ||
    { notok "a chunked body to a GET is cut"; cat "$T/chunk.out" >&2; }
head -c 33554432 /dev/zero > "$T/big"
equal "a 32 MiB body (Expect: 100-continue): 413, not a byte sent" "$(curl -s -o /dev/null \
    -w '%{http_code} %{size_upload}' --data-binary @"$T/big" "$U/api/users")" "413 0"
# sent without waiting: the 413 comes as soon as the header is read and
# the connection is closed; a close with unread bytes may reset it
# before curl reads the 413 (000)
curl -s -o /dev/null -w '%{http_code} %{size_upload}\n' -H 'Expect:' \
    --data-binary @"$T/big" "$U/api/users" > "$T/big.out"
grep -qE '^(413|000) ' "$T/big.out" && [ "$(cut -d' ' -f2 "$T/big.out")" -lt 33554432 ] &&
    ok "a 32 MiB body sent at once: refused before it is read whole" ||
    { notok "a 32 MiB body sent at once: refused before it is read whole"; cat "$T/big.out" >&2; }
rm -f "$T/big"
wait "$SPID"
equal "slow headers cut at the deadline (10 s)" "$(tail -1 "$T/slow.out")" "open after 13 s: 0"
grep -q 'closed 16 connections whose request was not whole in time' "$T/pipold.log" &&
    ok "the cut is logged" || notok "the cut is logged"
equal "and /boot/MAC answers" "$(timed /boot/52-54-00-00-00-01)" "200 fast"

# capacity kept for the nodes: users' requests stuck on a locked table
# hold at most 24 of the 32 pooled connections; /boot and /agent use the
# rest. 40 of them, from four addresses (10 each, under the limit).
sql "begin; lock table queues in access exclusive mode; select pg_sleep(8); commit" > /dev/null &
LPID=$!
sleep 0.5
pids=()
for i in $(seq 40); do
	curl -s -o /dev/null --max-time 30 --interface 127.0.0.$((10 + i % 4)) \
	    -H "Authorization: Bearer $tok" "$U/api/queues" &
	pids+=($!)
done
sleep 1.5
timed /boot/52-54-00-00-00-01 > "$T/t.boot" & b=$!
timed /agent/order -H 'Authorization: Bearer 0000' > "$T/t.agent" & a=$!
wait $b $a
equal "40 stuck API requests: /boot/MAC answers in under a second" "$(cat "$T/t.boot")" "200 fast"
equal "40 stuck API requests: /agent/order answers in under a second" "$(cat "$T/t.agent")" "401 fast"
wait "${pids[@]}" "$LPID"

# the store's lock, held (as by pipol image gc): a request that needs it
# does not wait on it with a database connection in hand
mkdir -p "$PIPOL_STATE/store"
flock -x "$PIPOL_STATE/store/lock" sleep 5 &
FPID=$!
sleep 0.3
out=$(curl -s -w ' %{http_code} %{time_total}' -H "Authorization: Bearer $tok" \
    --data-binary '{"nodes": ["n1"], "image": "os"}' "$U/api/deployments")
equal "store locked: deploy refused at once" "$(echo "$out" | awk '{ $NF = ($NF < 3 ? "fast" : "slow " $NF); print }')" \
    '{"error":"store busy (image gc running?), try again"} 503 fast'
equal "store locked: /boot/MAC answers in under a second" "$(timed /boot/52-54-00-00-00-01)" "200 fast"
wait "$FPID"

# scripts: an order carries the site's post-install scripts and its
# user's rc scripts, and the agent reads 1 MiB at most: each kind has a
# count (32) and a total (384 KiB post-install, 256 KiB rc per user)
utok=$(new_user carl)
printf '#!/bin/sh\ntrue\n' > "$T/s"
n=0
for i in $(seq 32); do as "$tok" script add "$T/s" --postinstall --name "p$i" >/dev/null && n=$((n + 1)); done
equal "32 post-install scripts taken" $n 32
expect_fail 7 "postinstall scripts: at most 32, 384 KiB in all (every deployment's order carries them); remove one first" \
    as "$tok" script add "$T/s" --postinstall --name p33
check "replacing one is no new one" as "$tok" script add "$T/s" --postinstall --name p32
head -c 40960 /dev/urandom > "$T/big"
n=0
for i in 1 2 3 4 5 6 7; do as "$utok" script add "$T/big" --name "rc$i" >/dev/null 2>&1 && n=$((n + 1)); done
equal "6 rc scripts of 40 KiB taken, not a 7th" $n 6
expect_fail 7 "rc scripts: at most 32 per user, 256 KiB in all" as "$utok" script add "$T/big" --name rc7
check "another user's rc scripts count apart" as "$tok" script add "$T/big" --name rc1
equal "nothing half-added" "$(sql "select count(*) from scripts where kind = 'rc' and owner_id = (select id from users where name = 'carl')")" 6
stop_pipold

# a postmaster that cannot be started again: 3 tries, then pipold exits 5
# for its service manager (the data folder made unreadable to postgres)
check "pipold starts again" start_pipold
kill -9 "$(head -1 "$T/state/pg/data/postmaster.pid")"
chmod 000 "$T/state/pg/data"
for _ in $(seq 200); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.1; done
kill "$DPID" 2>/dev/null	# still there after 20 s: red, not a hang
wait "$DPID"; rc=$?; DPID=
chmod 700 "$T/state/pg/data"
equal "no restart possible: pipold exits 5" $rc 5
grep -q 'PostgreSQL did not start again after 3 tries' "$T/pipold.log" &&
    ok "and says why" || notok "and says why"
