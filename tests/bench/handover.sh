#!/bin/bash
# handover.sh -- the hand-over after the write, reboot against kexec
# (initrd/kexec.c): one QEMU BIOS node on the test network (as
# tests/net/cycle.sh builds it: SeaBIOS, the NIC's iPXE, pipold, the
# cloud deployment environment, the test image), the same deployment
# run HANDOVER_RUNS times each way, alternating (--no-kexec, then the
# default kexec), and for each the time from postinstall_done (the
# agent's result) to ready (the deployed system's first boot said so),
# from pipol status --json's phases. Prints every run, the median of
# each way and their ratio. Under TCG the reboot's firmware pass is
# SeaBIOS + iPXE, seconds; a real server's POST adds one to several
# minutes to the reboot figure and nothing to the kexec one.
# Needs make bootenv (the Makefile's bench target builds it).
# Env: HANDOVER_RUNS (3).
RUNS=${HANDOVER_RUNS:-3}
NET_TIMEOUT=${NET_TIMEOUT:-3600}	# QEMU's own bound: 2 x RUNS deployments
PROFILE=pc-bios
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/net/testnet.sh"
. "$TOP/tests/net/e2e_lib.sh"

net_node n1 52:54:00:99:00:21 "$T/n1.disk" bios -S > /dev/null ||
    { echo "handover: the QEMU node did not start" >&2; exit 1; }

# one_run OPTS: the seconds from postinstall_done to ready, or nothing
one_run() {
	local dep
	alice deploy -n n1 -i testimg $1 --wait --timeout 10m > "$T/deploy.out" 2>&1 || {
		echo "handover: deploy $1 failed" >&2
		cat "$T/deploy.out" >&2
		tr -d '\r' < "$NET_DIR/n1.log" | tail -30 >&2
		return 1
	}
	dep=$(grep -o 'deployment [0-9]*' "$T/deploy.out" | head -1 | cut -d' ' -f2)
	alice status --json "$dep" | jq -r '.deployments[0] |
	    [(.phases[] | select(.phase == "postinstall_done") | .t),
	     (.phases[] | select(.phase == "ready") | .t), .handover // "reboot"] |
	    "\(.[1] - .[0]) \(.[2])"'
}

declare -a reboot kexec
printf '%-4s %-8s %s\n' RUN WAY 'postinstall_done -> ready (s)'
for i in $(seq "$RUNS"); do
	for way in reboot kexec; do
		opts=
		[ $way = reboot ] && opts=--no-kexec
		set -- $(one_run "$opts") || exit 1
		[ "${2:-}" = "$way" ] || { echo "handover: run $i: handed over by ${2:-?}, not $way" >&2; exit 1; }
		printf '%-4s %-8s %.1f\n' "$i" "$way" "$1"
		[ $way = reboot ] && reboot+=("$1") || kexec+=("$1")
	done
done
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
mr=$(median "${reboot[@]}") mk=$(median "${kexec[@]}")
printf 'median: reboot %.1f s, kexec %.1f s; kexec takes %.2f of the reboot'"'"'s time (TCG, %s cores%s)\n' \
    "$mr" "$mk" "$(echo "$mk / $mr" | bc -l)" "$(nproc)" "$([ -e /dev/kvm ] && echo ', KVM present' || echo ', no KVM')"
