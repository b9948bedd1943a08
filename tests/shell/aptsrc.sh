#!/bin/bash
# The reference-image and bench-disk builders take their Debian mirror
# only from apt's configuration (imagestore/aptsrc.sh): one-line and
# deb822 sources, disabled entries skipped, and one clear line when there
# is none -- before anything is installed or built.
. "$(dirname "$0")/../lib.sh"
. "$TOP/imagestore/aptsrc.sh"

E=$T/etc; mkdir -p "$E/sources.list.d"
export APT_ETC=$E
is() { if [ "$2" = "$3" ]; then ok "$1"; else notok "$1"; echo "  got '$2', want '$3'" >&2; fi; }

is "no sources: nothing" "$(apt_uri bookworm)" ""
cat > "$E/sources.list" <<'S'
# deb http://commented.invalid/debian bookworm main
deb [arch=amd64 signed-by=/k.gpg] http://one.invalid/debian bookworm main
deb http://one.invalid/security bookworm-security main
S
is "one-line: the bookworm URI" "$(apt_uri bookworm)" "http://one.invalid/debian"
is "one-line: bookworm-security is another suite" "$(apt_uri bookworm-security)" \
    "http://one.invalid/security"
: > "$E/sources.list"
cat > "$E/sources.list.d/debian.sources" <<'S'
Types: deb
URIs: http://off.invalid/debian
Suites: bookworm
Enabled: no
Components: main

Types: deb-src
URIs: http://src.invalid/debian
Suites: bookworm

Types: deb
URIs: http://two.invalid/debian
Suites: bookworm bookworm-updates
Components: main
S
is "deb822: the enabled deb entry" "$(apt_uri bookworm)" "http://two.invalid/debian"
is "deb822: no security entry" "$(apt_uri bookworm-security)" ""

# refimg.sh with no mirror: one line, exit 1, nothing built or installed
rm -f "$E/sources.list.d/debian.sources"
expect_fail 1 "refimg: no Debian mirror for bookworm in apt's configuration" \
    env APT_ETC="$E" PIPOL_CACHE="$T/cache" "$TOP/imagestore/refimg.sh" bios "$T/out.img"
if [ ! -e "$T/cache" ] && [ ! -e "$T/out.img" ]; then ok "refimg: nothing made"; else notok "refimg: nothing made"; fi
expect_fail 1 "mkdisk: no Debian mirror for bookworm in apt's configuration" \
    env APT_ETC="$E" PIPOL_CACHE="$T/cache" bash "$TOP/tests/bench/mkdisk.sh"
# no host name of a mirror in the code
if grep -rnE 'deb\.debian\.org|ftp\.[a-z.]*debian|mirrors?\.[a-z]+\.' \
    "$TOP/imagestore" "$TOP/tests/bench" "$TOP/bootenv" "$TOP/demo" \
    --include='*.sh' --include='*.mk' >&2; then
	notok "no mirror host written in the code"
else
	ok "no mirror host written in the code"
fi
