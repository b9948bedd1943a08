# e2e_lib.sh -- sourced by the end-to-end boot tests (cycle.sh,
# tests/e2e/*.sh) after setting PROFILE (the node's): the test image
# (tests/images/mkimage.sh, $T/testimg.raw) into the store as testimg:1
# with root=2, the test network, pipold and dnsmasq in its namespace,
# alice (SSH key $T/id) and node n1 (52:54:00:99:00:21, 10.99.0.21,
# QMP power, the cloud deployment environment), its blank 64 MiB disk
# $T/n1.disk. Gives pipol (admin) and alice (functions running pipol
# in the namespace), con TEXT (in n1's console), bootreqs (n1's
# fetches of /boot/MAC), sshnode USER CMD (CMD on n1 over SSH, alice's
# key). Cleans up on exit: pipold, its PostgreSQL,
# the namespace and what runs in it, $T. E2E_LAYOUT (mkimage --layout)
# and E2E_TFTP (pipold --tftp-root, a folder of the test's own) when set:
# the mac-efi32 test's GPT image and IA32 GRUB. E2E_PIPOLD_ARGS: more
# pipold options (words, no quoting), e.g. --reaper-seconds 2.
D=$B/pipold
chmod 755 "$T"	# the postgres user must reach $T/state/pg
DPID=
NET_TRAP=0
NET_REBOOT=	# the node reboots as a machine does
trap '[ -n "$DPID" ] && kill "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null;
    runuser -u postgres -- /usr/lib/postgresql/*/bin/pg_ctl -D "$T/state/pg/data" -m immediate stop >/dev/null 2>&1;
    net_down; rm -rf "$T"' EXIT
trap 'exit 130' INT; trap 'exit 143' TERM
BE=$B/bootenv/cloud
[ -s "$BE/vmlinuz" ] && [ -s "$BE/initrd.img" ] ||
    { notok "the deployment environment ($BE: make bootenv)"; exit 1; }
mkdir -p "$PIPOL_STATE/bootenv" && cp -r "$BE" "$PIPOL_STATE/bootenv/cloud"

ssh-keygen -q -t ed25519 -N '' -C alice@pipol-e2e -f "$T/id"
"$TOP/tests/images/mkimage.sh" "$T/testimg.raw" ${E2E_LAYOUT:+--layout "$E2E_LAYOUT"} 2> "$T/mk.err" ||
    { notok "the test image"; cat "$T/mk.err" >&2; exit 1; }
[ -z "${E2E_IMG_EXTRA:-}" ] ||	# random MiB after the system: a longer write
    head -c "$((E2E_IMG_EXTRA << 20))" /dev/urandom >> "$T/testimg.raw"
truncate -s "$(( ($(stat -c %s "$T/testimg.raw") >> 20) + 23 ))M" "$T/n1.disk"	# blank

check "net_up" net_up e2e
[ -n "$NET_NS" ] || exit 1
ip netns exec "$NET_NS" "$D" --listen "$NET_IP:8080" --dnsmasq-dir "$T/dns" \
    --public-url "$NET_URL" ${E2E_TFTP:+--tftp-root "$E2E_TFTP"} ${E2E_PIPOLD_ARGS:-} >> "$T/pipold.log" 2>&1 &
DPID=$!
for _ in $(seq 300); do net_exec curl -sf "$NET_URL/health" > /dev/null && break; sleep 0.1; done
check "pipold in the namespace" net_exec curl -sf "$NET_URL/health"
adm=$("$D" --add-user root --admin 2>/dev/null) || notok "pipold --add-user"
export PIPOL_SERVER=$NET_URL
pipol() { PIPOL_TOKEN=$adm net_exec "$P" "$@"; }
alice() { PIPOL_TOKEN=$al net_exec "$P" "$@"; }
al=$(pipol user add alice --ssh-key "$T/id.pub" | grep -oE '[0-9a-f]{64}')
[ -n "$al" ] && ok "alice, with her SSH key" || notok "alice, with her SSH key"
pipol node add n1 --mac 52:54:00:99:00:21 --profile $PROFILE --ip 10.99.0.21 \
    --power qemu --power-param qmp="$NET_DIR/n1.qmp" > /dev/null
equal "a QEMU $PROFILE node boots the cloud deployment environment" \
    "$(pipol node set n1 --bootenv cloud)" "n1: deployment environment cloud"
"$P" image create testimg --from "$T/testimg.raw" --meta root=2 > /dev/null &&
    "$P" image validate testimg:1 > /dev/null && "$P" image promote testimg:1 > /dev/null &&
    ok "testimg:1 in the store, root=2" || notok "testimg:1 in the store, root=2"
check "dnsmasq on pipold's files" net_dnsmasq "$T/dns"


con() { tr -d '\r' < "$NET_DIR/n1.log" | grep -F -- "$1" > /dev/null; }
# iPXE's fetches of /boot/MAC (each boot asks pipold once; TFTP sends
# snponly.efi twice a boot: its size first, then the file)
bootreqs() { tr -d '\r' < "$NET_DIR/n1.log" | grep -c "/boot/52%3A54%3A00%3A99%3A00%3A21\.\.\. ok"; }
sshnode() {
	net_exec ssh -F /dev/null -i "$T/id" -o BatchMode=yes -o IdentitiesOnly=yes \
	    -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
	    -o GlobalKnownHostsFile=/dev/null -o LogLevel=ERROR \
	    -o ConnectTimeout=20 "$1@10.99.0.21" "$2" 2>&1
}
