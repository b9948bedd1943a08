# aptsrc.sh -- sourced by the scripts that run debootstrap (refimg.sh,
# tests/bench/mkdisk.sh): the Debian mirror is the one this machine's apt
# uses, read from its configuration, never written in our code. An admin
# who wants another mirror changes apt's sources, and pipol follows.
#
# apt_uri SUITE: the first "deb" URI apt's sources give for SUITE, from
# one-line sources.list files and deb822 *.sources files alike; prints
# nothing when there is none. APT_ETC (default /etc/apt) is where apt's
# configuration is read (the tests point it at a folder of their own).
apt_uri() {
	local etc=${APT_ETC:-/etc/apt}
	{ sed -nE "s/^[[:space:]]*deb[[:space:]]+(\[[^]]*\][[:space:]]+)?([^[:space:]]+)[[:space:]]+$1([[:space:]].*)?\$/\2/p" \
	    "$etc/sources.list" "$etc"/sources.list.d/*.list 2>/dev/null
	  cat "$etc"/sources.list.d/*.sources 2>/dev/null | awk -v s="$1" '
	    BEGIN { RS = "" }
	    /(^|\n)Enabled:[ \t]*no/ { next }
	    /(^|\n)Types:[^\n]*[ \t]deb([ \t]|\n|$)/ &&
	    $0 ~ "(^|\n)Suites:[^\n]*[ \t]" s "([ \t]|\n|$)" {
		if (match($0, /(^|\n)URIs:[ \t]*[^ \t\n]+/)) {
			u = substr($0, RSTART, RLENGTH)
			sub(/.*URIs:[ \t]*/, "", u); print u
		}
	    }'; } | head -n 1
}

# apt_mirror_or_die SUITE PROG: apt_uri SUITE, or one line naming what is
# missing on stderr and exit 1
apt_mirror_or_die() {
	local u
	u=$(apt_uri "$1")
	if [ -z "$u" ]; then
		echo "$2: no Debian mirror for $1 in apt's configuration" \
		    "(${APT_ETC:-/etc/apt}/sources.list, sources.list.d/*.list," \
		    "*.sources): add one there (pipol takes its mirror only from apt)" >&2
		exit 1
	fi
	echo "$u"
}
