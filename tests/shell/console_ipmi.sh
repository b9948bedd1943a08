#!/bin/bash
# console_ipmi: an ipmi node's console through Serial-over-LAN. pipold
# runs "ipmitool ... sol activate" (its password from the file, -f)
# against ipmi_sim (OpenIPMI's BMC simulator, tests/ipmisim_lib.sh),
# whose SOL is wired to a fake serial line (tests/tools/fake_serial.py
# on TCP). The holder's keys reach the line and its answer comes back;
# the deployment's console log has it; another user is refused; the
# password is on no command line; "sol" must be on or off, and off (or
# absent) means no console and no ipmitool left running.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/pipold_lib.sh"
SPID= FPID=
extra_cleanup() {
	local p
	for p in $SPID $FPID; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
}
FP=$(free_port) IP=$(free_port)
/usr/bin/python3 "$TOP/tests/tools/fake_serial.py" "tcp:$FP" 2> "$T/fake.err" &
FPID=$!
for _ in $(seq 50); do ss -ltnH "sport = :$FP" | grep -q . && break; sleep 0.1; done
. "$TOP/tests/ipmisim_lib.sh"
ipmisim_start "$IP" "tcp:127.0.0.1:$FP"

check "pipold starts" start_pipold
adm=$(new_user root1 --admin) al=$(new_user alice) bo=$(new_user bob)
ipmi=(--power ipmi --power-param host=127.0.0.1 --power-param port="$IP" --power-param user=admin
    --power-param password_file="$T/sim/pw" --power-param cipher=3)
as "$adm" node add b1 --mac 52:54:00:00:08:01 --profile pc-bios "${ipmi[@]}" --power-param sol=on > /dev/null
expect_fail 2 'power_params: "sol": on or off' as "$adm" node set b1 "${ipmi[@]}" --power-param sol=yes
mkdisk "$T/d" 100000
"$P" image create os --from "$T/d" >/dev/null && "$P" image validate os:1 >/dev/null &&
    "$P" image promote os:1 >/dev/null
# alice deploys b1: its power cycle goes through ipmi_sim; the deployment
# waits for an agent that never comes, its console is the fake line
as "$al" deploy -n b1 -i os > "$T/dep.out" 2>&1
dep=$(grep -o 'deployment [0-9]*' "$T/dep.out" | head -1 | cut -d' ' -f2)
[ -n "$dep" ] && ok "alice deploys b1 (deployment $dep)" || { notok "alice deploys b1"; cat "$T/dep.out" >&2; }

# pipold starts ipmitool within CONSOLE_RETRY_SEC, the SOL session comes
# up: type until the node answers
for _ in $(seq 30); do
	printf 'boot\r' | as "$al" console b1 --seconds 1 > "$T/c1.out" 2>&1
	grep -qF "fake-node: booting" "$T/c1.out" && break
done
grep -qF "fake-node: booting" "$T/c1.out" && tr -d '\r' < "$T/c1.out" | grep -qx boot &&
    ok "alice's keys reach the node over SOL, its echo and answer come back" ||
    { notok "alice's keys reach the node over SOL"; cat -A "$T/c1.out" "$T/fake.err" "$T/pipold.log" >&2; }
kids=$(pgrep -P "$DPID" -x ipmitool)
equal "one ipmitool, pipold's child" "$(echo "$kids" | grep -c .)" 1
args=$(tr '\0' ' ' < "/proc/${kids:-0}/cmdline" 2>/dev/null)
[[ $args == *"-f $T/sim/pw"*"sol activate"* ]] && [[ $args != *s3cret* ]] &&
    ok "... sol activate, the password from its file, not in argv" || notok "... its arguments: $args"

sleep 1	# the echo on its way to the log
as "$al" log "$dep" --console > "$T/log"
grep -qF "fake-node: booting" "$T/log" && ok "pipol log $dep --console: what the node said over SOL" ||
    { notok "pipol log --console: what the node said over SOL"; cat -A "$T/log" >&2; }
expect_fail 4 "$U: node b1: not in a running reservation of yours" as "$bo" console b1 --seconds 5 < /dev/null
printf 'adm\r' | as "$adm" console b1 --seconds 2 > "$T/ca.out" 2>&1
tr -d '\r' < "$T/ca.out" | grep -qx adm && ok "an admin attaches too" ||
    { notok "an admin attaches too"; cat -A "$T/ca.out" >&2; }

# sol off: the console goes, and its ipmitool with it
as "$adm" node set b1 "${ipmi[@]}" --power-param sol=off > /dev/null
for _ in $(seq 50); do [ -z "$(pgrep -P "$DPID" -x ipmitool)" ] && break; sleep 0.1; done
equal "sol=off: pipold's ipmitool is gone" "$(pgrep -P "$DPID" -x ipmitool | wc -l)" 0
expect_fail 7 "$U: node b1: no console (an admin sets the qemu power param serial=PATH, or the ipmi one sol=on)" \
    as "$al" console b1 --seconds 5 < /dev/null
stop_pipold
