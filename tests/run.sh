#!/bin/bash
# run.sh -- the default suite: unit tests, shell tests (with the BIOS
# boot cycle), the longer boot tests of tests/e2e (the UEFI cycle, the
# failure cycles), lint, a bounded fuzz of the parsers, the ASan pass,
# the agent's threads under ThreadSanitizer.
#   run.sh               everything (make test, .ci/run)
#   run.sh NAME...       only the named tests: "deploy" names every test
#                        of that name (shell/deploy and asan/shell/deploy),
#                        "shell/deploy" only that one; "unit", "shell",
#                        "e2e", "lint", "fuzz", "asan", "tsan" name a whole
#                        group
#   run.sh --e2e         only tests/e2e (make test-e2e)
#   run.sh --list [NAME...]  the names, one a line
# Each check prints "ok - ..." or "not ok - ..."; a test program that
# dies without saying "not ok" counts as one failure. Ends with
# "N passed, N failed"; exits 1 when anything failed, 2 when a NAME
# matched no test. A test still running after TEST_TIMEOUT seconds
# (default 600) is stopped and counts as a failure.
set -u
cd "$(dirname "$0")/.."
B=${B:-build}
TEST_TIMEOUT=${TEST_TIMEOUT:-600}	# seconds a test may take (the longest: ~200)
LOG=$(mktemp -d /tmp/pipol-run.XXXXXX)
trap 'rm -rf "$LOG"' EXIT
pass=0 fail=0 list=0 ran=0
FILTER=()

case "${1:-}" in
--e2e)	FILTER=(e2e) ;;
--list)	list=1; shift; FILTER=("$@") ;;
-h|--help)
	sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
-*)	echo "run.sh: $1: unknown option (run.sh --help)" >&2; exit 2 ;;
*)	FILTER=("$@") ;;
esac

# want NAME: is the test NAME (e.g. asan/shell/deploy) selected?
want() {
	local f
	[ ${#FILTER[@]} -eq 0 ] && return 0
	for f in "${FILTER[@]}"; do
		case "$1" in
		"$f"|"$f"/*) return 0 ;;
		esac
		# a bare name: that test in every group (deploy: shell/deploy
		# and asan/shell/deploy)
		case "$f" in */*) ;; *) case "$1" in */"$f") return 0 ;; esac ;; esac
	done
	return 1
}

run() {		# run NAME CMD...
	local name=$1 rc p f; shift
	want "$name" || return 0
	if [ "$list" -eq 1 ]; then echo "$name"; return 0; fi
	local t0=$SECONDS
	ran=$((ran + 1))
	if declare -F "$1" > /dev/null; then
		"$@" > "$LOG/out" 2> "$LOG/err"; rc=$?
	else	# a test that hangs fails alone, the suite goes on
		timeout -k 30 "$TEST_TIMEOUT" "$@" > "$LOG/out" 2> "$LOG/err"; rc=$?
	fi
	p=$(grep -c '^ok ' "$LOG/out"); f=$(grep -c '^not ok ' "$LOG/out")
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		f=$((f + 1)); echo "not ok - $name: still running after ${TEST_TIMEOUT}s, stopped" >> "$LOG/out"
	elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1; echo "not ok - $name exited $rc" >> "$LOG/out"
	fi
	pass=$((pass + p)); fail=$((fail + f))
	if [ "$f" -eq 0 ]; then
		printf 'PASS %-36s %4d ok  %3ds\n' "$name" "$p" $((SECONDS - t0))
	else
		printf 'FAIL %-36s %4d ok, %d failed\n' "$name" "$p" "$f"
		grep '^not ok' "$LOG/out" | sed 's/^/     /'
		sed 's/^/     | /' "$LOG/err" | head -40
	fi
}

# wanted_any NAME...: is any of these tests selected (to build only what
# the selection needs)?
wanted_any() {
	local n
	[ "$list" -eq 1 ] && return 1
	for n in "$@"; do want "$n" && return 0; done
	return 1
}

SHELL_T=(tests/shell/*.sh) E2E_T=(tests/e2e/*.sh)
ASAN_SHELL="agent_deploy image_errors pipold reserve deploy power dnsmasq capture hostile
    postinst scripts policy tokens agent_phase elilo timeline kernel netboot kexec mac_dhcp asap
    image_api jobs"
# (wipe runs once, unsanitized: under ASan it took 74 s of writing zeros)
ASAN_SHELL="$ASAN_SHELL metrics bmc"	# metrics, bmc
ASAN_SHELL="$ASAN_SHELL web"	# web: sessions, CSRF, the event streams
ASAN_SHELL="$ASAN_SHELL cron"	# cron
ASAN_SHELL="$ASAN_SHELL console console_ipmi"	# WebSocket frames, SOL
ASAN_SHELL="$ASAN_SHELL image_packages image_bases agent_sources racks"	# a dpkg database read from a disk
ASAN_SHELL="$ASAN_SHELL vmhosts"	# vm hosts: the capacity, run-time params

for t in "$B"/tests/*_test; do
	run "unit/$(basename "$t")" "$t"
done
# the deployment environment shell/bootenv and the boot cycles boot (the
# kernel .deb is downloaded once, then cached; make rebuilds only what
# changed)
booting=()
for t in "${SHELL_T[@]}"; do booting+=("shell/$(basename "$t" .sh)"); done
for t in "${E2E_T[@]}"; do booting+=("e2e/$(basename "$t" .sh)"); done
if wanted_any "${booting[@]}" && ! make -s bootenv > "$LOG/bootenv.log" 2>&1; then
	fail=$((fail + 1)); echo "FAIL make bootenv"; tail -20 "$LOG/bootenv.log"
fi
for t in "${SHELL_T[@]}"; do
	run "shell/$(basename "$t" .sh)" bash "$t"
done
for t in "${E2E_T[@]}"; do
	run "e2e/$(basename "$t" .sh)" bash "$t"
done
for t in tests/lint/*.sh; do
	run "lint/$(basename "$t" .sh)" bash "$t"
done
run "fuzz" bash tests/fuzz/run.sh "${FUZZ_SECONDS:-10}"	# a bound; longer by hand

# the same code under AddressSanitizer + UBSan (LeakSanitizer at exit):
# a report makes a program exit non-zero, so the checks above go red
asan=()
for t in build-asan/tests/*_test "$B"/tests/*_test; do
	asan+=("asan/unit/$(basename "$t")")
done
for t in $ASAN_SHELL; do asan+=("asan/shell/$t"); done
if [ "$list" -eq 1 ]; then
	for t in "$B"/tests/*_test; do
		want "asan/unit/${t##*/}" && echo "asan/unit/${t##*/}"
	done
	for t in $ASAN_SHELL; do want "asan/shell/$t" && echo "asan/shell/$t"; done
elif wanted_any "${asan[@]}"; then
	if make -s asan > "$LOG/asan.log" 2>&1; then
		for t in build-asan/tests/*_test; do
			run "asan/unit/$(basename "$t")" "$t"
		done
		for t in $ASAN_SHELL; do
			B=build-asan run "asan/shell/$t" bash "tests/shell/$t.sh"
		done
	else
		fail=$((fail + 1)); echo "FAIL asan build"; tail -20 "$LOG/asan.log"
	fi
fi

# the agent's threads under ThreadSanitizer: every unit test and the
# agent's shell test; a race halts the binary (exit 66) and leaves a
# report in build-tsan/tsan-report.PID, which fails the group too.
# tests/tsan.supp: third-party libraries only, a reason per line.
tsan=()
for t in "$B"/tests/*_test; do tsan+=("tsan/unit/${t##*/}"); done
tsan+=(tsan/shell/agent_deploy tsan/shell/agent_sources tsan/reports)
tsan_reports() {
	local r bad=0
	for r in build-tsan/tsan-report.*; do
		[ -e "$r" ] || continue
		echo "not ok - ThreadSanitizer: $r"; head -40 "$r" >&2; bad=1
	done
	[ $bad -eq 1 ] || echo "ok - no ThreadSanitizer report"
}
if [ "$list" -eq 1 ]; then
	for t in "${tsan[@]}"; do want "$t" && echo "$t"; done
elif wanted_any "${tsan[@]}"; then
	if make -s tsan-build > "$LOG/tsan.log" 2>&1; then
		rm -f build-tsan/tsan-report.*
		export TSAN_OPTIONS="halt_on_error=1 exitcode=66 \
log_path=$PWD/build-tsan/tsan-report suppressions=$PWD/tests/tsan.supp"
		for t in build-tsan/tests/*_test; do
			run "tsan/unit/${t##*/}" "$t"
		done
		B=$PWD/build-tsan run tsan/shell/agent_deploy \
		    bash tests/shell/agent_deploy.sh
		B=$PWD/build-tsan run tsan/shell/agent_sources \
		    bash tests/shell/agent_sources.sh
		run tsan/reports tsan_reports
		unset TSAN_OPTIONS
	else
		fail=$((fail + 1)); echo "FAIL tsan build"; tail -20 "$LOG/tsan.log"
	fi
fi

[ "$list" -eq 1 ] && exit 0
if [ ${#FILTER[@]} -gt 0 ] && [ "$ran" -eq 0 ] && [ "$fail" -eq 0 ]; then
	echo "run.sh: no test named ${FILTER[*]} (run.sh --list)" >&2
	exit 2
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
