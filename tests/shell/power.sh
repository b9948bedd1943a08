#!/bin/bash
# power: pipol node show|set|power through pipold, against a real QEMU
# (QMP over its Unix socket; SeaBIOS's debug port tells each boot) and a
# real IPMI BMC simulator (ipmi_sim, openipmi) on loopback, driven by
# ipmitool; who may act, what is refused, what goes to the event log.
. "$(dirname "$0")/../lib.sh"
D=$B/pipold
chmod 755 "$T"	# the postgres user must reach $T/state/pg
PORT=$(free_port)
U=http://127.0.0.1:$PORT
DPID= QPID= SPID= MPID=
stop() { [ -n "$1" ] && kill "$1" 2>/dev/null && wait "$1" 2>/dev/null; }
trap 'stop "$DPID"; stop "$QPID"; stop "$SPID"; stop "$MPID";
    runuser -u postgres -- /usr/lib/postgresql/*/bin/pg_ctl -D "$T/state/pg/data" -m immediate stop >/dev/null 2>&1;
    rm -rf "$T"' EXIT
start_pipold() {	# start_pipold [env VAR=VALUE...]
	"$@" "$D" --listen 127.0.0.1:$PORT >> "$T/pipold.log" 2>&1 &
	DPID=$!
	for _ in $(seq 300); do curl -sf "$U/health" >/dev/null && return 0; sleep 0.1; done
	return 1
}
sql() { psql -X -q -t -A -h "$T/state/pg" -U pipol -d pipol -c "$1" 2>&1; }
# boots: how many times SeaBIOS started (its first line after the banner,
# BUILD:, comes once per power-on or reset on its debug port)
boots() { grep -c '^BUILD: ' "$T/bios.log" 2>/dev/null; }
wait_boots() {	# wait_boots N: up to 20 s for the Nth banner (TCG is slow)
	for _ in $(seq 200); do [ "$(boots)" -ge "$1" ] && return 0; sleep 0.1; done
	return 1
}

check "pipold starts" start_pipold
tok=$("$D" --add-user root --admin 2>/dev/null)
export PIPOL_SERVER=$U PIPOL_TOKEN=$tok
utok=$("$P" user add bob)
as_bob() { env PIPOL_TOKEN="$utok" "$P" "$@"; }

# a paused VM: q35, no disk, no NIC; QMP on a Unix socket
qemu-system-x86_64 -machine q35 -accel tcg -m 64 -nodefaults -display none \
    -S -qmp "unix:$T/qmp.sock,server=on,wait=off" \
    -chardev "file,id=dbg,path=$T/bios.log" \
    -device isa-debugcon,iobase=0x402,chardev=dbg 2> "$T/qemu.err" &
QPID=$!
for _ in $(seq 100); do [ -S "$T/qmp.sock" ] && break; sleep 0.1; done

equal "node add with power params" "$("$P" node add n1 --mac 52:54:00:00:01:01 \
    --profile virtual --ip 10.9.1.1 --power qemu --power-param qmp="$T/qmp.sock")" n1
"$P" node show n1 > "$T/show"
equal "node show (admin)" "$(cat "$T/show")" "name           n1
mac            52:54:00:00:01:01
profile        virtual
ip             10.9.1.1
power          qemu
boot           local
wipe           off
kexec          on
power_params   {\"qmp\":\"$T/qmp.sock\"}"
as_bob node show n1 > "$T/show"
grep -q '^power  *qemu$' "$T/show" && ! grep -q power_params "$T/show" &&
    ok "node show (user): no power params" || { notok "node show (user): no power params"; cat "$T/show" >&2; }
expect_fail 6 "$U: node n9: no such node" "$P" node show n9

# QMP against the real QEMU
equal "status of a VM started with -S" "$("$P" node power n1 status)" "n1: prelaunch"
equal "nothing booted yet" "$(boots)" 0
equal "on" "$("$P" node power n1 on)" "n1: on (running)"
wait_boots 1 && ok "on: the firmware runs" || notok "on: the firmware runs"
equal "status: running" "$("$P" node power n1 status)" "n1: running"
equal "on again" "$("$P" node power n1 on)" "n1: already on (running)"
equal "reset" "$("$P" node power n1 reset)" "n1: reset"
wait_boots 2 && ok "reset: the firmware starts again" || notok "reset: the firmware starts again"
equal "cycle" "$("$P" node power n1 cycle)" "n1: power-cycled (running)"
wait_boots 3 && ok "cycle: the firmware starts again" || notok "cycle: the firmware starts again"
# a reset landing early in the firmware's start may print its banner
# twice: count from here, once it has settled
sleep 2
b0=$(boots)

# who may: admins (holders of a reservation later); the rest changes nothing
expect_fail 4 "$U: node n1: not in a running reservation of yours" as_bob node power n1 off
r=$(as_bob reserve --nodes n1 --for 10m -q)
as_bob node power n1 status > /dev/null && ok "the holder of a running reservation may" ||
    notok "the holder of a running reservation may"
as_bob release "$r" > /dev/null
kill -0 "$QPID" 2>/dev/null && ok "refused off: QEMU still runs" || notok "refused off: QEMU still runs"
expect_fail 6 "$U: node n9: no such node" "$P" node power n9 on
expect_fail 2 "reboot: not on, off, reset, cycle or status" "$P" node power n1 reboot
powerpost() { curl -s -o "$T/post.out" -w '%{http_code}' -H "Authorization: Bearer ${2:-$tok}" \
    --data-binary "$1" "$U/api/nodes/n1/power"; }
equal "bad action: 400" "$(powerpost '{"action": "explode"}')" 400
grep -qF '"action\": on, off, reset, cycle or status' "$T/post.out" &&
    ok "bad action: named" || { notok "bad action: named"; cat "$T/post.out" >&2; }
equal "unknown field: 400" "$(powerpost '{"action": "off", "force": true}')" 400
equal "no body: 400" "$(powerpost '')" 400
equal "action not a string: 400" "$(powerpost '{"action": 1}')" 400
equal "no token: 401" "$(curl -s -o /dev/null -w '%{http_code}' --data-binary '{"action":"off"}' "$U/api/nodes/n1/power")" 401
equal "user: 403" "$(powerpost '{"action": "off"}' "$utok")" 403
equal "unknown node: 404" "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tok" \
    --data-binary '{"action":"off"}' "$U/api/nodes/n9/power")" 404
equal "GET on the power path: 404" "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tok" "$U/api/nodes/n1/power")" 404
equal "status after the refusals: still running" "$("$P" node power n1 status)" "n1: running"
equal "no boot from refused calls" "$(boots)" "$b0"
# a deploy power-cycles the node through its driver
mkdisk "$T/disk" 3000000
"$P" image create tiny --from "$T/disk" > /dev/null && "$P" image validate tiny:1 > /dev/null
as_bob deploy -n n1 -i tiny:1 > /dev/null && ok "bob deploys onto n1" || notok "bob deploys onto n1"
wait_boots $((b0 + 1)) && ok "deploy: the node is power-cycled by its driver" || notok "deploy: the node is power-cycled by its driver"

equal "off" "$("$P" node power n1 off)" "n1: off (QEMU quit)"
for _ in $(seq 50); do kill -0 "$QPID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$QPID" 2>/dev/null && { notok "off: the QEMU process exits"; kill "$QPID"; } ||
    ok "off: the QEMU process exits"
wait "$QPID"; QPID=
expect_fail 5 "$U: node n1: qmp $T/qmp.sock: connect:" "$P" node power n1 status
equal "power events logged, not status, refusals not" \
    "$(sql "select string_agg(detail->>'action', ' ' order by id) from events where kind = 'node.power'")" \
    "on on reset cycle off"

# a socket nobody serves, params missing or wrong
"$P" node add n2 --mac 52:54:00:00:01:02 --profile virtual --power qemu \
    --power-param qmp="$T/none.sock" > /dev/null
expect_fail 5 "$U: node n2: qmp $T/none.sock: connect: No such file or directory" "$P" node power n2 on
equal "a failed action is logged too" \
    "$(sql "select detail->>'ok' from events where kind = 'node.power' and detail->>'node' = 'n2'")" false
"$P" node add n3 --mac 52:54:00:00:01:03 --profile virtual --power qemu > /dev/null
expect_fail 7 "$U: node n3: power_params: \"qmp\": missing" "$P" node power n3 on
# a socket where something listens but never speaks: the deadline holds
nc -lU "$T/mute.sock" > /dev/null 2>&1 &
MPID=$!
for _ in $(seq 50); do [ -S "$T/mute.sock" ] && break; sleep 0.1; done
"$P" node add n6 --mac 52:54:00:00:01:06 --profile virtual --power qemu \
    --power-param qmp="$T/mute.sock" > /dev/null
s=$SECONDS
expect_fail 5 "$U: node n6: qmp $T/mute.sock: no answer in 10 s" "$P" node power n6 status
[ $((SECONDS - s)) -le 15 ] && ok "a mute QMP socket: given up in time" || notok "a mute QMP socket: given up in time"
stop "$MPID"; MPID=
expect_fail 2 "$U: node n4: power_params: \"qmp\": relative: not an absolute path" \
    "$P" node add n4 --mac 52:54:00:00:01:04 --profile virtual --power qemu --power-param qmp=relative
expect_fail 2 "$U: node n4: power_params: \"sock\": not a parameter of the qemu driver" \
    "$P" node add n4 --mac 52:54:00:00:01:04 --profile virtual --power qemu --power-param sock=/x
expect_fail 2 "--power-param qmp: not KEY=VALUE" "$P" node add n4 --mac 52:54:00:00:01:04 \
    --profile virtual --power-param qmp
equal "refused adds: no node n4" "$(sql "select count(*) from nodes where name = 'n4'")" 0

# manual: nothing happens, the person is told what to do
"$P" node add n5 --mac 52:54:00:00:01:05 --profile pc-bios > /dev/null
equal "manual: cycle" "$("$P" node power n5 cycle)" "n5: power-cycle node n5 by hand"
equal "manual: status" "$("$P" node power n5 status)" \
    "n5: node n5: power state unknown (manual driver): look at it"

# node set: admins change the driver and its params
equal "node set params" "$("$P" node set n3 --power-param qmp=/run/n3.qmp)" "n3: power qemu"
equal "stored" "$(sql "select power_params->>'qmp' from nodes where name = 'n3'")" /run/n3.qmp
equal "node set driver alone drops the old params" "$("$P" node set n3 --power manual)" "n3: power manual"
equal "params dropped" "$(sql "select power_params::text from nodes where name = 'n3'")" "{}"
expect_fail 2 "$U: node n3: power driver \"wol\": not qemu, ipmi, vm or manual" "$P" node set n3 --power wol
# the deployment kernel's extra words (boot_params.console): what every
# boot script may carry, bounded; "" back to the default
equal "node set --console" "$("$P" node set n3 --console 'console=ttyS0,115200 pipol.kexec=load')" \
    "n3: console console=ttyS0,115200 pipol.kexec=load"
equal "... kept in boot_params" "$(sql "select boot_params->>'console' from nodes where name = 'n3'")" \
    "console=ttyS0,115200 pipol.kexec=load"
curl -s "$U/boot/52:54:00:00:01:03" | grep -q 'pipol.kexec=load' && notok "... not in a script with no deployment" ||
    ok "... not in a script with no deployment"
for bad in 'quiet; reboot' 'a$(id)' "it's" 'x"y' 'a\b' 'x#y' "$(printf 'a%.0s' $(seq 201))"; do
	"$P" node set n3 --console "$bad" > /dev/null 2> "$T/con.err"
	equal "node set --console '${bad:0:20}': refused, exit 2" "$? $(grep -c 'console.: kernel arguments' "$T/con.err")" "2 1"
done
equal "... nothing changed" "$(sql "select boot_params->>'console' from nodes where name = 'n3'")" \
    "console=ttyS0,115200 pipol.kexec=load"
expect_fail 4 "$U: admins only" as_bob node set n3 --console quiet
equal "node set --console '': the default again" "$("$P" node set n3 --console '')" "n3: console (the default)"
equal "... the key gone" "$(sql "select boot_params ? 'console' from nodes where name = 'n3'")" f
expect_fail 4 "$U: admins only" as_bob node set n3 --power qemu
expect_fail 6 "$U: node n9: no such node" "$P" node set n9 --power manual
expect_fail 2 "give NAME and --power, --power-param, --bootenv, --console, --wipe, --kexec or --rack" "$P" node set n3
equal "node.set events (power twice, console twice)" "$(sql "select count(*) from events where kind = 'node.set'")" 4

# IPMI: ipmitool against ipmi_sim (OpenIPMI's BMC simulator) on
# loopback; its chassis control is a script keeping the power state
IP=$((20000 + RANDOM % 10000))
. "$TOP/tests/ipmisim_lib.sh"
ipmisim_start "$IP"
"$P" node add b1 --mac 52:54:00:00:02:01 --profile pc-bios --power ipmi \
    --power-param host=127.0.0.1 --power-param port=$IP --power-param user=admin \
    --power-param password_file="$T/sim/pw" --power-param cipher=3 > /dev/null
sleep 0.5	# ipmi_sim binds its port
equal "ipmi: status" "$("$P" node power b1 status)" "b1: Chassis Power is off"
equal "ipmi: on" "$("$P" node power b1 on)" "b1: Chassis Power Control: Up/On"
equal "ipmi: the BMC powered on" "$(cat "$T/sim/power" 2>/dev/null)" 1
equal "ipmi: status on" "$("$P" node power b1 status)" "b1: Chassis Power is on"
equal "ipmi: reset" "$("$P" node power b1 reset)" "b1: Chassis Power Control: Reset"
equal "ipmi: cycle" "$("$P" node power b1 cycle)" "b1: Chassis Power Control: Cycle"
equal "ipmi: off" "$("$P" node power b1 off)" "b1: Chassis Power Control: Down/Off"
equal "ipmi: the BMC powered off" "$(cat "$T/sim/power")" 0
grep -q 'set reset 1' "$T/sim/log" && ok "ipmi: the BMC was told to reset" || notok "ipmi: the BMC was told to reset"
grep -rqF s3cret "$T/pipold.log" && notok "the password is in no log" || ok "the password is in no log"
printf 'wrong\n' > "$T/sim/pw2"
"$P" node set b1 --power-param host=127.0.0.1 --power-param port=$IP --power-param user=admin \
    --power-param password_file="$T/sim/pw2" --power-param cipher=3 > /dev/null
expect_fail 1 "$U: node b1: ipmitool 127.0.0.1: Error: Unable to establish IPMI v2 / RMCP+ session" \
    "$P" node power b1 on
equal "a refused password: the BMC stays off" "$(cat "$T/sim/power")" 0
"$P" node set b1 --power-param host=127.0.0.1 --power-param port=$IP --power-param user=admin \
    --power-param password_file="$T/sim/none" > /dev/null
expect_fail 7 "$U: node b1: password_file $T/sim/none: No such file or directory" "$P" node power b1 on
stop "$SPID"; SPID=
"$P" node set b1 --power-param host=127.0.0.1 --power-param port=$IP --power-param user=admin \
    --power-param password_file="$T/sim/pw" --power-param cipher=3 > /dev/null
expect_fail 1 "$U: node b1: ipmitool 127.0.0.1: Error: Unable to establish IPMI v2 / RMCP+ session" \
    "$P" node power b1 status

# ipmi params are checked strictly before anything is stored or run
for bad in "host=-oProxyCommand=x:\"host\": -oProxyCommand=x: not a host name or IP address" \
    "host=a b:\"host\": a b: not a host name or IP address" \
    "host=bmc..lan:\"host\": bmc..lan: not a host name or IP address" \
    "user=-x:\"user\": -x: not 1-16 characters, not starting with '-'" \
    "password_file=pw:\"password_file\": pw: not an absolute path" \
    "port=99999:\"port\": 99999: not a port number" \
    "password=x:\"password\": not a parameter of the ipmi driver"; do
	kv=${bad%%:*} msg=${bad#*:}
	args=(--power-param host=bmc1.lan --power-param user=admin --power-param password_file=/etc/pw)
	expect_fail 2 "$U: node b1: power_params: $msg" "$P" node set b1 --power ipmi "${args[@]}" --power-param "$kv"
done
expect_fail 2 "$U: node b1: power_params: the ipmi driver needs \"host\", \"user\" and \"password_file\"" \
    "$P" node set b1 --power ipmi --power-param host=bmc1.lan
equal "refused params: b1 unchanged" "$(sql "select power_params->>'password_file' from nodes where name = 'b1'")" "$T/sim/pw"
# ipmitool missing from pipold's PATH: one clear line (a second pipold)
kill "$DPID"; wait "$DPID"; DPID=
check "pipold without ipmitool in its PATH" start_pipold env PATH=/usr/sbin:/sbin
expect_fail 5 "$U: node b1: ipmitool: not found in PATH (install the ipmitool package)" \
    "$P" node power b1 status
