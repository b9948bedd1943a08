# sub: pipol sub on two QEMU nodes of the test network (pc-bios), two
# images (testimg and testb, the same test system under two names):
# alice's job is placed, one node deployed with each image, and once a
# node is ready the job hook copies her source folder into her home,
# runs her command as her (its id -u is 10000 + her id, never 0) with
# words a shell would have read, and sends back its output, its exit
# status and a result file; both nodes are released (powered off) after
# their run, and pipol sub --wait exits 1 because one command exited 3.
PROFILE=pc-bios
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/net/testnet.sh"
. "$TOP/tests/net/e2e_lib.sh"

cp --sparse=always "$T/n1.disk" "$T/n2.disk"
check "n1: pc-bios node, blank disk, off" net_node n1 52:54:00:99:00:21 "$T/n1.disk" bios -S
check "n2: pc-bios node, blank disk, off" net_node n2 52:54:00:99:00:22 "$T/n2.disk" bios -S
pipol node add n2 --mac 52:54:00:99:00:22 --profile $PROFILE --ip 10.99.0.22 \
    --power qemu --power-param qmp="$NET_DIR/n2.qmp" > /dev/null
equal "n2: the cloud deployment environment" "$(pipol node set n2 --bootenv cloud)" \
    "n2: deployment environment cloud"
"$P" image create testb --from "$T/testimg.raw" --meta root=2 > /dev/null &&
    "$P" image validate testb:1 > /dev/null && "$P" image promote testb:1 > /dev/null &&
    ok "testb:1 in the store" || notok "testb:1 in the store"
mkdir -p "$T/src/lib"
echo 'the data' > "$T/src/lib/data.txt"
chmod -R a+rX "$T/src"
uid=10002	# alice: pipold's second user (10000 + her id)
t0=$(date +%s)
# n1 exits 3, n2 exits 0 (whichever image each got)
alice sub -n 1 -i testimg,testb --dir "$T/src" --name e2e --for 20m --wait -- \
    sh -c 'id -u; cat lib/data.txt; echo "$1"; cat /etc/hostname > "$PIPOL_RESULTS/r.txt"
	[ "$(cat /etc/hostname)" = n1 ] && exit 3; exit 0' \
    pipol-e2e '$(reboot); `halt` "q"' > "$T/sub.out" 2>&1 &
spid=$!
for _ in $(seq 12000); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$spid" 2>/dev/null && { notok "pipol sub --wait ends within 20 min"; kill "$spid"; }
wait "$spid"; rc=$?
equal "pipol sub --wait: one command exited 3: exit 1 ($(($(date +%s) - t0)) s)" "$rc" 1
job=$(grep -o '^job [0-9]*' "$T/sub.out" | head -1 | cut -d' ' -f2)
grep -qE "^[0-9]+ +test(img|b) +n1 +exited +3 " "$T/sub.out" &&
    grep -qE "^[0-9]+ +test(img|b) +n2 +exited +0 " "$T/sub.out" &&
    [ "$(grep -cE '^[0-9]+ +testimg ' "$T/sub.out")" = 1 ] &&
    [ "$(grep -cE '^[0-9]+ +testb ' "$T/sub.out")" = 1 ] &&
    ok "the runs: one node per image, n1 exited 3, n2 exited 0" ||
    { notok "the runs: one node per image, n1 exited 3, n2 exited 0"; cat "$T/sub.out" >&2
      for n in n1 n2; do alice job log "$job" $n --stderr >&2; tr -d '\r' < "$NET_DIR/$n.log" | tail -20 >&2; done; }
for n in n1 n2; do
	alice job log "$job" $n > "$T/stdout.$n"
	equal "$n: run as alice (uid $uid), in her home with the source, words verbatim" "$(cat "$T/stdout.$n")" "$uid
the data
\$(reboot); \`halt\` \"q\""
done
cd "$T" && alice job fetch "$job" -o "$T/out" > /dev/null
for n in n1 n2; do
	if [ "$(tar -xzOf "$T"/out/$n-test*/results.tar.gz ./r.txt 2>/dev/null)" = $n ]; then
		ok "$n: its result file came back"
	else
		notok "$n: its result file came back"
		find "$T/out" -ls >&2; tar -tzvf "$T"/out/$n-test*/results.tar.gz >&2
	fi
done
tr -d '\r' < "$NET_DIR/n1.log" | grep -qF "pipol: job run over, exit status 3" &&
    tr -d '\r' < "$NET_DIR/n2.log" | grep -qF "pipol: job run over, exit status 0" &&
    ok "each node's hook reported its run" || notok "each node's hook reported its run"
running() { local s; s=$(ps -o stat= -p "$1" 2>/dev/null); [ -n "$s" ] && [ "${s#Z}" = "$s" ]; }
for n in n1 n2; do
	qpid=${NET_PIDS[$n]}
	for _ in $(seq 600); do running "$qpid" || break; sleep 0.1; done
	! running "$qpid" && ok "$n: released after the run, powered off" ||
	    notok "$n: released after the run, powered off"
	net_node_stop $n
done
alice reservations > "$T/resv" 2>&1
grep -qE ' n[12]$' "$T/resv" && ! grep -E ' n[12]$' "$T/resv" | grep -qvE '^[0-9]+ +alice +(released|ended) ' &&
    ok "alice's reservations for the job: released" ||
    { notok "alice's reservations for the job: released"; cat "$T/resv" >&2; }
kill -0 "$DPID" 2>/dev/null && ok "pipold still runs" || notok "pipold still runs"
