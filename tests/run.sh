#!/bin/bash
# run.sh -- the default suite: unit tests, shell tests (with the BIOS
# boot cycle), a bounded fuzz of the parsers, lint, the ASan pass;
# run.sh --e2e: the longer boot tests of tests/e2e (the UEFI cycle ...). Each check prints "ok - ..." or "not ok - ..."; a
# test program that dies without saying "not ok" counts as one failure.
# Ends with "N passed, N failed"; exits 1 when anything failed.
set -u
cd "$(dirname "$0")/.."
B=${B:-build}
LOG=$(mktemp -d /tmp/pipol-run.XXXXXX)
trap 'rm -rf "$LOG"' EXIT
pass=0 fail=0

run() {		# run NAME CMD...
	local name=$1 rc p f; shift
	local t0=$SECONDS
	"$@" > "$LOG/out" 2> "$LOG/err"; rc=$?
	p=$(grep -c '^ok ' "$LOG/out"); f=$(grep -c '^not ok ' "$LOG/out")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
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

# run.sh --e2e: only the longer end-to-end boot tests (make test-e2e)
if [ "${1:-}" = --e2e ]; then
	if ! make -s bootenv > "$LOG/bootenv.log" 2>&1; then
		fail=$((fail + 1)); echo "FAIL make bootenv"; tail -20 "$LOG/bootenv.log"
	fi
	for t in tests/e2e/*.sh; do
		run "e2e/$(basename "$t" .sh)" bash "$t"
	done
	echo "$pass passed, $fail failed"
	[ "$fail" -eq 0 ]
	exit
fi
for t in "$B"/tests/*_test; do
	run "unit/$(basename "$t")" "$t"
done
# the deployment environment shell/bootenv boots (the kernel .deb is
# downloaded once, then cached; make rebuilds only what changed)
if ! make -s bootenv > "$LOG/bootenv.log" 2>&1; then
	fail=$((fail + 1)); echo "FAIL make bootenv"; tail -20 "$LOG/bootenv.log"
fi
for t in tests/shell/*.sh; do
	run "shell/$(basename "$t" .sh)" bash "$t"
done
for t in tests/lint/*.sh; do
	run "lint/$(basename "$t" .sh)" bash "$t"
done
run "fuzz (bounded)" bash tests/fuzz/run.sh "${FUZZ_SECONDS:-15}"

# the same code under AddressSanitizer + UBSan (LeakSanitizer at exit):
# a report makes a program exit non-zero, so the checks above go red
if make -s asan > "$LOG/asan.log" 2>&1; then
	for t in build-asan/tests/*_test; do
		run "asan/unit/$(basename "$t")" "$t"
	done
	for t in agent_deploy image_errors pipold reserve deploy power dnsmasq capture \
	    postinst scripts; do
		B=build-asan run "asan/shell/$t" bash "tests/shell/$t.sh"
	done
else
	fail=$((fail + 1)); echo "FAIL asan build"; tail -20 "$LOG/asan.log"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
