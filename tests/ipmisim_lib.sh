# ipmisim_lib.sh -- sourced by the tests that drive a BMC: OpenIPMI's
# simulator (ipmi_sim) on loopback, user 2 "admin" / "s3cret-pw"
# (ADMINISTRATOR), lanplus with cipher 3. Its chassis control is a
# script keeping the power state in $T/sim/power and every call in
# $T/sim/log. Users changed through IPMI persist under $T/sim/state.
# ipmisim_start PORT [SOL]: starts it, sets SPID (the test stops it);
# $T/sim/pw holds the admin's password (0600). SOL: the device its
# Serial-over-LAN connects to (e.g. tcp:127.0.0.1:PORT).
ipmisim_start() {
	local port=$1 sol=${2:-}
	mkdir -p "$T/sim/state"
	cat > "$T/sim/chassis" <<EOF
#!/bin/sh
# ipmi_sim chassis_control: MC get PARM... | MC set PARM VAL...
echo "\$*" >> "$T/sim/log"
case \$2 in
get) shift 2; for p; do [ "\$p" = power ] && echo "power:\$(cat "$T/sim/power" 2>/dev/null || echo 0)"; done ;;
set) shift 2; while [ \$# -ge 2 ]; do [ "\$1" = power ] && echo "\$2" > "$T/sim/power"; shift 2; done ;;
esac
EOF
	chmod 755 "$T/sim/chassis"
	cat > "$T/sim/lan.conf" <<EOF
name "pipoltest"
set_working_mc 0x20
  startlan 1
    addr 127.0.0.1 $port
    priv_limit admin
    allowed_auths_callback none md2 md5 straight
    allowed_auths_user none md2 md5 straight
    allowed_auths_operator none md2 md5 straight
    allowed_auths_admin none md2 md5 straight
    guid a123456789abcdefa123456789abcdef
  endlan
  chassis_control "$T/sim/chassis 0x20"
${sol:+  sol \"$sol\" 115200}
  user 2 true "admin" "s3cret-pw" admin 10 none md2 md5 straight
EOF
	printf 'mc_setbmc 0x20\nmc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02\nmc_enable 0x20\n' > "$T/sim/bmc.emu"
	ipmi_sim -c "$T/sim/lan.conf" -f "$T/sim/bmc.emu" -s "$T/sim/state" -n > "$T/sim/out" 2>&1 &
	SPID=$!
	printf 's3cret-pw\n' > "$T/sim/pw"
	chmod 600 "$T/sim/pw"
}
