#!/bin/bash
# lint.sh -- source rules: every command answers --help with status 0,
# no shell is built from strings in C, every --help option is in the
# man page.
. "$(dirname "$0")/../lib.sh"
cd "$TOP"

# every pipol command and group: --help answers with its usage line,
# and every option it shows (long name and short letter; the page comes
# from the command's table in common/cmd.c's format) is in docs/pipol.1
walk() {
	local out rc c o
	out=$($P "$@" --help); rc=$?
	if [ $rc -eq 0 ] && echo "$out" | grep -q "^usage: pipol${*:+ $*}"; then
		ok "pipol $* --help"
	else
		notok "pipol $* --help (exit $rc)"
	fi
	for o in $(echo "$out" | grep -oE -- '--[a-z][a-z-]+' | sort -u); do
		grep -qF -- "${o//-/\\-}" docs/pipol.1 2>/dev/null ||
		    grep -qF -- "$o" docs/pipol.1 2>/dev/null ||
		    notok "pipol $* $o is in docs/pipol.1"
	done
	for o in $(echo "$out" | grep -oE -- '^  -[a-zA-Z],' | tr -d ' ,' | sort -u); do
		grep -qE -- "(^|[ ([]|\\\\f[BIRP])\\\\$o([^a-zA-Z-]|\$)" docs/pipol.1 ||
		    notok "pipol $* $o is in docs/pipol.1"
	done
	for c in $(echo "$out" | awk '/^  [a-z]/{print $1}'); do
		walk "$@" "$c"
	done
}
walk
[ "$($P --help | awk '/^  [a-z]/' | wc -l)" -ge 8 ] && ok "commands listed" || notok "commands listed"
# pipol-agent: --help answers, every option is in its man page
A=$B/pipol-agent
for args in "--help" "deploy --help" "capture --help" "efiboot --help" \
    "postinstall --help" "wipe --help" "kernel --help" "applenet --help"; do
	# shellcheck disable=SC2086
	if "$A" $args | grep -q '^usage: '; then ok "pipol-agent $args"; else notok "pipol-agent $args"; fi
done
# node mode's own options (the first "--help"), then each command's
for mode in "" deploy capture efiboot postinstall wipe kernel applenet; do
	# shellcheck disable=SC2086
	for o in $("$A" $mode --help | grep -oE -- '--[a-z][a-z-]+' | sort -u); do
		grep -qF -- "${o//-/\\-}" docs/pipol-agent.8 ||
		    notok "pipol-agent $mode $o is in docs/pipol-agent.8"
	done
done
man -l docs/pipol-agent.8 > /dev/null 2>&1 || [ ! -x /usr/bin/man ] &&
    ok "pipol-agent.8 renders" || notok "pipol-agent.8 renders"

# pipold
"$B/pipold" --help | grep -q '^usage: pipold' && ok "pipold --help" || notok "pipold --help"
for o in $("$B/pipold" --help | grep -oE -- '--[a-z][a-z-]+' | sort -u); do
	grep -qF -- "${o//-/\\-}" docs/pipold.8 || notok "pipold $o is in docs/pipold.8"
done

# make demo's script: parses, answers --help, refuses a bad word
bash -n demo/demo.sh && demo/demo.sh --help | grep -q 'make demo' && ok "demo/demo.sh --help" ||
    notok "demo/demo.sh --help"
demo/demo.sh nope > /dev/null 2>&1; [ $? -eq 2 ] && ok "demo/demo.sh nope: exit 2" || notok "demo/demo.sh nope: exit 2"
# bootenv: build.sh answers --help; /init and the DHCP hook parse
bootenv/build.sh --help | grep -q '^usage: bootenv/build.sh' && ok "bootenv/build.sh --help" ||
    notok "bootenv/build.sh --help"
for f in bootenv/init bootenv/udhcpc.script; do
	busybox sh -n "$f" && ok "$f: busybox sh -n" || notok "$f: busybox sh -n"
done

if git grep -nE '\b(system|popen)[[:space:]]*\(' -- '*.c' '*.h' > "$T/sys"; then
	notok "no system()/popen() in C"; cat "$T/sys" >&2
else
	ok "no system()/popen() in C"
fi
