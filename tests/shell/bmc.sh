#!/bin/bash
# bmc: per-reservation BMC accounts (frontend/bmc.c, api_bmc.c, schema
# 017) against ipmi_sim (OpenIPMI's BMC simulator) on loopback, driven
# by ipmitool: the holder's credentials work during the reservation and
# are refused after release, after expiry, and after an end that came
# while pipold was down; only the holder sees them; the account is an
# OPERATOR; a slot holding a site user is left alone; the admin password
# rotation (old refused, new works, power still works).
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/pipold_lib.sh"
SPID=
extra_cleanup() { [ -n "$SPID" ] && kill "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null; }

# the simulator (tests/ipmisim_lib.sh): admin / s3cret-pw
IP=$(free_port)
. "$TOP/tests/ipmisim_lib.sh"
ipmisim_start "$IP"

# ipmi_as USER PASSWORD CMD...: ipmitool on the simulator, the
# password in the environment (-E), never on a command line
ipmi_as() {
	local u=$1 p=$2; shift 2
	IPMI_PASSWORD=$p ipmitool -I lanplus -H 127.0.0.1 -p "$IP" -C 3 -N 1 -R 2 -U "$u" -E "$@" 2>&1
}
admin_pw() { head -1 "$T/sim/pw"; }
# creds NAME: as the holder, pipol node bmc NAME until it answers (the
# tick enables the account within seconds); user and password in U_ PW_
creds() {
	for _ in $(seq 150); do
		as "$al" node bmc "$1" > "$T/bmc.out" 2> "$T/bmc.err" && break
		sleep 0.2
	done
	U_=$(awk '$1 == "user" { print $2 }' "$T/bmc.out")
	PW_=$(awk '$1 == "password" { print $2 }' "$T/bmc.out")
	[ -n "$PW_" ]
}
# works: the holder's credentials open a session now
works() { ipmi_as "$U_" "$PW_" chassis power status | grep -q '^Chassis Power is'; }
# refused_soon: within 20 s, the credentials open no session
refused_soon() {
	for _ in $(seq 40); do works || return 0; sleep 0.5; done
	return 1
}

check "pipold starts" start_pipold
adm=$(new_user root1 --admin) al=$(new_user alice) bo=$(new_user bob)
sleep 0.3	# ipmi_sim binds its port
as "$adm" node add b1 --mac 52:54:00:00:04:01 --profile pc-bios --power ipmi \
    --power-param host=127.0.0.1 --power-param port=$IP --power-param user=admin \
    --power-param password_file="$T/sim/pw" --power-param cipher=3 > /dev/null
as "$adm" node add q1 --mac 52:54:00:00:04:02 --profile virtual > /dev/null

# no reservation: the tick makes the slot known and disabled
for _ in $(seq 100); do [ "$(sql "select known from bmc_accounts")" = t ] && break; sleep 0.2; done
equal "with no reservation: the slot known, disabled" \
    "$(sql "select known, reservation_id is null from bmc_accounts")" "t|t"
expect_fail 4 "$U: node b1: not in a running reservation of yours" as "$al" node bmc b1

# a reservation: the holder's account
r1=$(as "$al" reserve --nodes b1 --for 10m -q)
check "the holder gets an account" creds b1
grep -q "^bmc          127.0.0.1:$IP$" "$T/bmc.out" && grep -q "^example      IPMI_PASSWORD=... ipmitool -I lanplus -H 127.0.0.1 -p $IP -U $U_ -C 3 -E chassis power status$" "$T/bmc.out" &&
    ok "pipol node bmc: address and an ipmitool example" || { notok "pipol node bmc: address and example"; cat "$T/bmc.out" >&2; }
equal "user named after the reservation" "$U_" "pipol-r$r1"
[[ $PW_ =~ ^[A-Za-z0-9]{16}$ ]] && ok "a 16-character password" || notok "a 16-character password ($PW_)"
equal "the holder's credentials work (chassis power status)" \
    "$(ipmi_as "$U_" "$PW_" chassis power status)" "Chassis Power is off"
equal "... and power it on (an OPERATOR may)" "$(ipmi_as "$U_" "$PW_" chassis power on)" "Chassis Power Control: Up/On"
ipmi_as admin "$(admin_pw)" user list 1 | grep -qE "^3 +pipol-r$r1 .*OPERATOR" &&
    ok "the slot is an OPERATOR, not an ADMINISTRATOR" || notok "the slot is an OPERATOR"
# an OPERATOR session may not change the admin's password. ipmi_sim
# (openipmi 2.0.x) does not cap a session at the user's channel limit:
# asked for ADMINISTRATOR (ipmitool's default), it grants it and would
# let the slot change user 2's password; real BMCs refuse the session
# at a level above the limit. So the check asks for OPERATOR (-L).
ipmi_as "$U_" "$PW_" -L OPERATOR user set password 2 hijacked | grep -q 'Insufficient privilege level' &&
    ok "an OPERATOR session cannot change the admin's password" ||
    notok "an OPERATOR session cannot change the admin's password"
ipmi_as admin "$(admin_pw)" mc info | grep -q 'Device ID' && ok "... the admin's password unchanged" ||
    notok "... the admin's password unchanged"
equal "a wrong password is refused" "$(ipmi_as "$U_" "${PW_}x" chassis power status | grep -c 'Unable to establish')" 1
expect_fail 4 "$U: node b1: not in a running reservation of yours" as "$bo" node bmc b1
expect_fail 4 "$U: node b1: not in a running reservation of yours" as "$adm" node bmc b1
equal "another user: 403" "$(api "$bo" GET /api/bmc/b1)" 403
equal "no token: 401" "$(curl -s -o /dev/null -w '%{http_code}' "$U/api/bmc/b1")" 401
equal "a bad node name: 404" "$(api "$al" GET '/api/bmc/B%22x')" 404
expect_fail 6 "$U: node n9: no such node" as "$al" node bmc n9
expect_fail 7 "$U: node q1: not an IPMI node (power driver manual)" as "$adm" node bmc q1
pw1=$PW_
# the password is in no log, no event, no table
grep -qF "$PW_" "$T/pipold.log" && notok "the password is not in pipold's log" || ok "the password is not in pipold's log"
equal "... nor in any event" "$(sql "select count(*) from events where detail::text like '%$PW_%'")" 0
equal "... nor in bmc_accounts" "$(sql "select count(*) from bmc_accounts b where b::text like '%$PW_%'")" 0
equal "... nor a leftover command file" "$(ls "$T/state/bmc" | wc -l)" 0
equal "the key is the daemon's alone" "$(stat -c %a "$T/state/bmc.key")" 600

# release: the account dies
as "$al" release "$r1" > /dev/null
check "after release: the credentials are refused" refused_soon
expect_fail 4 "$U: node b1: not in a running reservation of yours" as "$al" node bmc b1
equal "the slot disabled" "$(sql "select known, reservation_id is null from bmc_accounts")" "t|t"

# expiry (the reservation's end moved to now: time passed)
r2=$(as "$al" reserve --nodes b1 --for 10m -q)
check "a new reservation: a new account" creds b1
[ "$PW_" != "$pw1" ] && ok "... with a new password" || notok "... with a new password"
works && ok "... that works" || notok "... that works"
sql "update reservation_nodes set during = tstzrange(lower(during), now()) where reservation_id = $r2;
    update reservations set during = tstzrange(lower(during), now()) where id = $r2" > /dev/null
check "after expiry: the credentials are refused" refused_soon
for _ in $(seq 100); do [ "$(sql "select state from reservations where id = $r2")" = expired ] && break; sleep 0.2; done
equal "... the reservation expired" "$(sql "select state from reservations where id = $r2")" expired

# an end while pipold is down: reconciled when it comes back
r3=$(as "$al" reserve --nodes b1 --for 10m -q)
check "a third reservation: its account" creds b1
kill -9 "$DPID"; wait "$DPID" 2>/dev/null; DPID=
sql "update reservation_nodes set during = tstzrange(lower(during), now()) where reservation_id = $r3;
    update reservations set during = tstzrange(lower(during), now()) where id = $r3" > /dev/null
sleep 3
works && ok "pipold down: nobody acted yet" || notok "pipold down: nobody acted yet"
check "pipold starts again" start_pipold
check "... and disables the account of the reservation that ended" refused_soon

# a slot holding a site's own user is never clobbered
ipmi_as admin "$(admin_pw)" user set name 3 siteops > /dev/null
r4=$(as "$al" reserve --nodes b1 --for 10m -q)
sleep 4
expect_fail 5 "BMC user 3 is \"siteops\", not pipol's: left alone" as "$al" node bmc b1
ipmi_as admin "$(admin_pw)" user list 1 | grep -qE '^3 +siteops ' && ok "... the site's user kept" || notok "... the site's user kept"
as "$al" release "$r4" > /dev/null

# the admin password's rotation
expect_fail 4 "$U: admins only" as "$bo" node bmc b1 --rotate-admin
expect_fail 7 "$U: node q1: not an IPMI node (power driver manual)" as "$adm" node bmc q1 --rotate-admin
equal "rotate" "$(as "$adm" node bmc b1 --rotate-admin)" "b1: BMC user admin (id 2): new password in $T/sim/pw"
new=$(admin_pw)
[[ $new =~ ^[A-Za-z0-9]{16}$ ]] && [ "$new" != s3cret-pw ] && ok "a new 16-character password in the file" ||
    notok "a new password in the file ($new)"
equal "... the file still 0600" "$(stat -c %a "$T/sim/pw")" 600
[ ! -e "$T/sim/pw.new" ] && ok "... no temporary left" || notok "... no temporary left"
ipmi_as admin s3cret-pw mc info | grep -q 'Unable to establish' && ok "the old admin password is refused" ||
    notok "the old admin password is refused"
ipmi_as admin "$new" mc info | grep -q 'Device ID' && ok "the new one works" || notok "the new one works"
# (off: the releases' end actions powered the node off)
equal "pipold's power still works" "$(as "$adm" node power b1 on)" "b1: Chassis Power Control: Up/On"
equal "... the BMC powered on" "$(cat "$T/sim/power")" 1
grep -qF "$new" "$T/pipold.log" && notok "the new admin password is not in the log" || ok "the new admin password is not in the log"
equal "events: the rotation, no password" \
    "$(sql "select detail->>'action', detail->>'ok', detail::text like '%$new%' from events where kind = 'node.bmc' and detail->>'action' = 'rotate-admin'")" "rotate-admin|true|f"
stop_pipold
