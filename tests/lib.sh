# lib.sh -- sourced by tests/shell/*.sh. Each check prints "ok - NAME" or
# "not ok - NAME"; tests/run.sh counts them. Scratch files live in $T,
# removed on exit.
set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
B=${B:-$TOP/build}
case $B in /*) ;; *) B=$PWD/$B ;; esac	# a test may cd
P=$B/pipol
T=$(mktemp -d /tmp/pipol-test.XXXXXX)
trap 'rm -rf "$T"' EXIT
export PIPOL_STATE=$T/state
# QEMU's accelerator: KVM only where the CPU says it can virtualise
# (vmx/svm); some machines have a /dev/kvm that opens but cannot run a
# real-mode ROM ("KVM internal error... emulation failure", or iPXE
# hanging), and -accel kvm -accel tcg would pick it. PIPOL_QEMU_ACCEL
# (e.g. "-accel tcg") overrides.
if [ -n "${PIPOL_QEMU_ACCEL:-}" ]; then
	QEMU_ACCEL=$PIPOL_QEMU_ACCEL
elif [ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo; then
	QEMU_ACCEL="-accel kvm -accel tcg"
else
	QEMU_ACCEL="-accel tcg"
fi

ok() { echo "ok - $*"; }
notok() { echo "not ok - $*"; }

# check NAME CMD...: passes when CMD exits 0.
check() {
	local name=$1; shift
	if "$@" >"$T/.out" 2>"$T/.err"; then ok "$name"; else
		notok "$name"; echo "  exit $?: $*" >&2; head -5 "$T/.err" >&2
	fi
}

# expect_fail CODE MESSAGE CMD...: exit status CODE, MESSAGE (a fixed
# string) on stderr, exactly one line there (plus the usage line for 2).
expect_fail() {
	local code=$1 msg=$2 rc; shift 2
	"$@" >"$T/.out" 2>"$T/.err"; rc=$?
	if [ $rc -eq "$code" ] && grep -qF -- "$msg" "$T/.err" &&
	    [ "$(grep -vc '^usage: ' "$T/.err")" -eq 1 ]; then
		ok "fails $code: $msg"
	else
		notok "fails $code: $msg"
		echo "  got exit $rc: $*" >&2; head -5 "$T/.err" >&2
	fi
}

# same NAME A B: files A and B are byte-identical.
same() {
	if cmp -s "$2" "$3"; then ok "$1"; else notok "$1"; fi
}

# equal NAME GOT WANT
equal() {
	if [ "$2" = "$3" ]; then ok "$1"; else
		notok "$1"; echo "  got '$2', want '$3'" >&2
	fi
}

# mkdisk FILE SIZE: random and text-like data, zero runs, a hole.
mkdisk() {
	local f=$1 size=$2
	rm -f "$f"
	head -c 3000000 /dev/urandom | dd of="$f" conv=notrunc status=none
	base64 -w 100 /dev/urandom | head -c 2500000 |
	    dd of="$f" bs=1M seek=5 conv=notrunc status=none
	truncate -s "$size" "$f"
	[ "$size" -gt 8000000 ] && head -c 777777 /dev/urandom |
	    dd of="$f" bs=1 seek=$((size - 777777)) conv=notrunc status=none
}

# dpkg_status FILE: a dpkg database, 3 installed of 6 stanzas
dpkg_status() {
	mkdir -p "$(dirname "$1")"
	{
		printf 'Package: bash\nStatus: install ok installed\nPriority: required\nVersion: 5.2.15-2+b2\nArchitecture: amd64\n\n'
		printf 'Package: oldpkg\nStatus: deinstall ok config-files\nVersion: 1.0\nArchitecture: amd64\n\n'
		printf 'Package: zlib1g\nStatus: install ok installed\nArchitecture: amd64\nMulti-Arch: same\nVersion: 1:1.2.13.dfsg-1\n\n'
		printf 'Package: noversion\nStatus: install ok installed\n\n'
		printf 'Package: %s\nStatus: install ok installed\nVersion: 1\n\n' "$(printf 'x%.0s' $(seq 300))"
		printf 'Package: tzdata\nStatus: install ok installed\nVersion: 2024a-0+deb12u1\nArchitecture: all\n'
	} > "$1"
}
# dpkg_disk FILE LABEL FSTYPE: a 64 MiB disk, its last partition FSTYPE with
# the database (LABEL gpt, dos, or none: the file system is the disk)
dpkg_disk() {
	local f=$1 label=$2 fs=$3 start
	rm -rf "$T/root" && dpkg_status "$T/root/var/lib/dpkg/status"
	rm -f "$f" "$T/part"
	if [ "$label" = none ]; then
		mke2fs -q -t "$fs" -d "$T/root" "$f" 32M
		return
	fi
	truncate -s 64M "$f"
	if [ "$label" = gpt ]; then
		printf 'label: gpt\n,8M,U\n,,L\n' | sfdisk -q "$f"
	else
		printf 'label: dos\n,8M,c\n,,83\n' | sfdisk -q "$f"
	fi
	mke2fs -q -t "$fs" -d "$T/root" "$T/part" 40M
	start=$(sfdisk -J "$f" | jq '.partitiontable.partitions[-1].start')
	dd if="$T/part" of="$f" bs=512 seek="$start" conv=notrunc,sparse status=none
}
# flip_byte FILE OFFSET: invert one byte in place (a byte set to a fixed
# value would leave the file intact when it held that value already)
flip_byte() {
	local b
	b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	printf "\\x$(printf %02x $((255 - b)))" |
	    dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# snapshot: what a user of the store can see, and every file in it.
snapshot() {
	( cd "$PIPOL_STATE" 2>/dev/null && find . -type f ! -name '*lock' \
	    -printf '%P %s\n' | sort && cat store/images/*/refs 2>/dev/null )
}

chunk_files() { find "$PIPOL_STATE/store/chunks" -type f | wc -l; }

# start_httpd [FAULT OPTIONS]: serve $PIPOL_STATE/store on loopback with
# tests/tools/testhttpd; sets HP (pid) and URL. PORT=N reuses a port.
start_httpd() {
	rm -f "$T/port" "$T/stats"
	"$B/tests/testhttpd" --root "$PIPOL_STATE/store" \
	    --listen "127.0.0.1:${PORT:-0}" --port-file "$T/port" \
	    --stats-file "$T/stats" "$@" &
	HP=$!
	for _ in $(seq 200); do [ -s "$T/port" ] && break; sleep 0.05; done
	PORT=$(cat "$T/port")
	URL=http://127.0.0.1:$PORT
}
stop_httpd() { kill "$HP" 2>/dev/null; wait "$HP" 2>/dev/null; true; }
# served_bytes: body bytes the last stopped server sent
served_bytes() { awk '{print $4}' "$T/stats" 2>/dev/null; }
# json_field FILE KEY: KEY of the last JSON line of FILE
json_field() { tail -1 "$1" | grep -o "\"$2\":[^,}]*" | cut -d: -f2 | tr -d '"'; }

# free_port: a TCP port no socket uses now (another test's server, a
# client's connection), in 20000-31999: below the kernel's ephemeral
# range (32768-60999), so an outgoing connection never takes it between
# the pick and the bind
free_port() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 12000))
		[ -z "$(ss -Hatn "( sport = :$p or dport = :$p )" 2>/dev/null)" ] && { echo "$p"; return 0; }
	done
	echo "$p"
}
