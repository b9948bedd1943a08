#!/bin/bash
# image_packages: the packages an image holds, read when it is validated
# (imagestore/packages.c: the raw disk, sfdisk -J for its partitions,
# debugfs for each one's /var/lib/dpkg/status; no mount). Disks made
# here for real: GPT with an EFI and an ext4 root, MBR with ext3, a bare
# ext4 with no table, a disk with no file system; a dpkg database with
# removed packages, a stanza without a version and a 300-character
# name. pipol image packages (local and through pipold, --grep), the
# count in show, and who sees what: a user nothing of a draft.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/pipold_lib.sh"
r() { local t=$1; shift; env -u PIPOL_STATE PIPOL_SERVER="$U" PIPOL_TOKEN="$t" "$P" "$@"; }

# status FILE: a dpkg database, 3 installed of 6 stanzas
status() {
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
# disk FILE LABEL FSTYPE: a 64 MiB disk, its last partition FSTYPE with
# the database (LABEL gpt, dos, or none: the file system is the disk)
disk() {
	local f=$1 label=$2 fs=$3 start
	rm -rf "$T/root" && status "$T/root/var/lib/dpkg/status"
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
want=$'bash 5.2.15-2+b2 amd64\ntzdata 2024a-0+deb12u1 all\nzlib1g 1:1.2.13.dfsg-1 amd64'

for kind in "gpt ext4" "dos ext3" "none ext4"; do
	set -- $kind
	disk "$T/d" "$1" "$2"
	"$P" image create "$1" --from "$T/d" > /dev/null
	equal "$1/$2: before validation, not read" "$("$P" image show "$1" | grep '^packages:')" \
	    "packages:      not read (validate it)"
	"$P" image validate "$1:1" > /dev/null
	equal "$1/$2: the installed packages, no removed one, no malformed one" \
	    "$("$P" image packages "$1" | sort)" "$want"
done
equal "show: their count" "$("$P" image show gpt | grep '^packages:')" "packages:      3 (pipol image packages)"
equal "--grep: those whose name contains it" "$("$P" image packages gpt --grep z | sort)" \
    $'tzdata 2024a-0+deb12u1 all\nzlib1g 1:1.2.13.dfsg-1 amd64'
expect_fail 2 "--grep a;b: not a piece of a package name (a-z 0-9 . + - _ :)" "$P" image packages gpt --grep 'a;b'
head -c 20000000 /dev/urandom > "$T/noise"
"$P" image create noise --from "$T/noise" > /dev/null && "$P" image validate noise:1 > /dev/null &&
    ok "a disk with no file system validates" || notok "a disk with no file system validates"
equal "... holding no package it can see" "$("$P" image packages noise | wc -l)" 0
equal "... and nothing left in the store's tmp" "$(ls "$PIPOL_STATE/store/tmp" | wc -l)" 0

# through pipold: validated there too; users see deployable versions only
check "pipold starts" start_pipold
adm=$(new_user root1 --admin) al=$(new_user alice)
disk "$T/d" gpt ext4
"$P" image create api --from "$T/d" > /dev/null
expect_fail 6 "image api: no such image" r "$al" image packages api
r "$adm" image validate api:1 > /dev/null
equal "validated through pipold: alice lists them" "$(r "$al" image packages api | sort)" "$want"
equal "... --grep through pipold" "$(r "$al" image packages api:1 --grep bash)" "bash 5.2.15-2+b2 amd64"
"$P" image create api --from "$T/d" > /dev/null
expect_fail 6 "image api:2: no such version" r "$al" image packages api:2
equal "an admin sees a draft's (not read yet): none" "$(r "$adm" image packages api:2 2>&1)" \
    "pipol: image api:2: its packages were not read (validated by an older pipol, or no debugfs): validate it again"
equal "GET /api/images/api/packages?q=...: JSON" \
    "$(api "$al" GET '/api/images/api/packages?q=zlib'; jq -c '[.image, .version, .collected, .packages]' "$T/api.out")" \
    '200["api",1,true,[["zlib1g","1:1.2.13.dfsg-1","amd64"]]]'
equal "a q of 201 characters: 400" "$(api "$al" GET "/api/images/api/packages?q=$(printf 'q%.0s' $(seq 201))")" 400
stop_pipold
