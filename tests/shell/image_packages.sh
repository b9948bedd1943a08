#!/bin/bash
# image_packages: the packages an image holds, read when it is validated
# (imagestore/packages.c: the raw disk, sfdisk -J for its partitions,
# debugfs for each one's /var/lib/dpkg/status; no mount). Disks made
# here for real: GPT with an EFI and an ext4 root, MBR with ext3, a bare
# ext4 with no table, a disk with no file system; a dpkg database with
# removed packages, a stanza without a version and a 300-character
# name; rpm databases (RHEL's and Fedora's places). pipol image packages
# (local and through pipold, --grep), the count in show, and who sees
# what: a user nothing of a draft.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/pipold_lib.sh"
r() { local t=$1; shift; env -u PIPOL_STATE PIPOL_SERVER="$U" PIPOL_TOKEN="$t" "$P" "$@"; }

want=$'bash 5.2.15-2+b2 amd64\ntzdata 2024a-0+deb12u1 all\nzlib1g 1:1.2.13.dfsg-1 amd64'

for kind in "gpt ext4" "dos ext3" "none ext4"; do
	set -- $kind
	dpkg_disk "$T/d" "$1" "$2"
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

# rpm databases (rpmdb.sqlite, as RHEL 9 and Fedora keep them), made by
# Debian's rpm and rpmbuild: two packages, one with an epoch; RHEL's
# /var/lib/rpm, then Fedora's /usr/lib/sysimage/rpm behind a
# /var/lib/rpm link; a partition with both databases gives dpkg's
rpm_db() {	# rpm_db DIR: the database of two built packages in DIR
	local top=$T/rpmtop n v e
	mkdir -p "$top/SPECS" "$1"
	for n in "probe-a 1.0 1" "probe-b 2.5 0"; do
		set -- "$1" $n
		printf 'Name: %s\nVersion: %s\nRelease: 3.el9\n%bSummary: s\nLicense: MIT\nBuildArch: noarch\n%%description\nd\n%%files\n' \
		    "$2" "$3" "$( [ "$4" = 1 ] && echo 'Epoch: 1\n')" > "$top/SPECS/$2.spec"
		rpmbuild -bb --quiet --define "_topdir $top" "$top/SPECS/$2.spec" > /dev/null 2>&1
	done
	rpm --dbpath "$1" --initdb
	rpm --dbpath "$1" -i --justdb --nodeps --ignoreos "$top"/RPMS/noarch/*.rpm > /dev/null 2>&1
	rm -f "$1/.rpm.lock"
}
rpm_disk() {	# rpm_disk FILE fedora|rhel|both
	rm -rf "$T/root" "$T/rpmtop" && mkdir -p "$T/root/var/lib"
	case $2 in
	fedora) rpm_db "$T/root/usr/lib/sysimage/rpm"; ln -s ../../usr/lib/sysimage/rpm "$T/root/var/lib/rpm" ;;
	rhel) rpm_db "$T/root/var/lib/rpm" ;;
	both) rpm_db "$T/root/var/lib/rpm"; dpkg_status "$T/root/var/lib/dpkg/status" ;;
	esac
	rm -f "$1"; mke2fs -q -t ext4 -d "$T/root" "$1" 32M
}
rwant=$'probe-a 1:1.0-3.el9 noarch\nprobe-b 2.5-3.el9 noarch'
for kind in rhel fedora; do
	rpm_disk "$T/r" $kind
	"$P" image create "r$kind" --from "$T/r" > /dev/null && "$P" image validate "r$kind:1" > /dev/null
	equal "rpm ($kind): the installed packages, epoch and release" "$("$P" image packages "r$kind" | sort)" "$rwant"
done
rpm_disk "$T/r" both
"$P" image create rboth --from "$T/r" > /dev/null && "$P" image validate rboth:1 > /dev/null
equal "a partition with both databases: dpkg's" "$("$P" image packages rboth | sort)" "$want"
equal "... and nothing left in the store's tmp" "$(ls "$PIPOL_STATE/store/tmp" | wc -l)" 0

# through pipold: validated there too; users see deployable versions only
check "pipold starts" start_pipold
adm=$(new_user root1 --admin) al=$(new_user alice)
dpkg_disk "$T/d" gpt ext4
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
