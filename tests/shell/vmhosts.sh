#!/bin/bash
# vmhosts: pipol vmhost and virtual nodes' bookkeeping against a real
# pipold, without QEMU (tests/e2e/vm.sh runs the machines): admins only
# declare hosts; every value checked; each node counted against its
# host's vCPUs, memory and disk (the one that does not fit refused, with
# what is given and asked), at add and at set; a host never lowered
# below its nodes nor removed with them; a vm node has no wipe; a vm
# node never deployed has no disk to start; the params a node may not
# set (a bridge, a MAC, an id) never reach QEMU from the row.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/pipold_lib.sh"

expect_fail 2 "--vm-uid-base 1000: not in 65536..2130706432" "$D" --vm-uid-base 1000 --listen 127.0.0.1:1
expect_fail 2 "--vm-uid-base 2147483647: not in 65536..2130706432" "$D" --vm-uid-base 2147483647 --listen 127.0.0.1:1
expect_fail 2 "--vm-accel xen: kvm or tcg" "$D" --vm-accel xen --listen 127.0.0.1:1
check "pipold starts" start_pipold
adm=$(new_user root1 --admin) al=$(new_user alice)

expect_fail 4 "admins only" as "$al" vmhost add local --bridge br0 --cpus 4 --mem 2G --disk 8G
equal "a user: POST /api/vmhosts 403" "$(api "$al" POST /api/vmhosts '{"name":"h","bridge":"br0","cpus":1,"mem":64,"disk":64}')" 403
equal "a user: DELETE 403" "$(api "$al" DELETE /api/vmhosts/h)" 403
equal "no token: GET 401" "$(api "" GET /api/vmhosts)" 401
equal "cpus 0: 400" "$(api "$adm" POST /api/vmhosts '{"name":"h","bridge":"br0","cpus":0,"mem":64,"disk":64}')" 400
equal "cpus \"4\": 400" "$(api "$adm" POST /api/vmhosts '{"name":"h","bridge":"br0","cpus":"4","mem":64,"disk":64}')" 400
equal "a bridge with a space: 400" "$(api "$adm" POST /api/vmhosts '{"name":"h","bridge":"br 0","cpus":1,"mem":64,"disk":64}')" 400
equal "a bridge of 16 bytes: 400" "$(api "$adm" POST /api/vmhosts '{"name":"h","bridge":"abcdefghijklmnop","cpus":1,"mem":64,"disk":64}')" 400
equal "a bad name: 400" "$(api "$adm" POST /api/vmhosts '{"name":"H/1","bridge":"br0","cpus":1,"mem":64,"disk":64}')" 400
equal "an unknown field: 400" "$(api "$adm" POST /api/vmhosts '{"name":"h","bridge":"br0","cpus":1,"mem":64,"disk":64,"ssh":"x"}')" 400
expect_fail 2 "--mem 1.5G: a size in MiB or more" as "$adm" vmhost add local --bridge br0 --cpus 4 --mem 1.5G --disk 8G
equal "nothing made by the refusals" "$(sql "select count(*) from vm_hosts")" 0
equal "pipol vmhost add" "$(as "$adm" vmhost add local --bridge br0 --cpus 4 --mem 2G --disk 8G)" "vm host local"

# nodes against the capacity: 4 vCPUs, 2048 MiB, 8192 MiB
check "v1: 2 vCPUs, 1G, 4G" as "$adm" node add v1 --mac 52:54:00:00:24:01 --profile virtual --vm local --cpus 2 --mem 1G --disk 4G
check "v2: the defaults (1 vCPU, 512M, 4G)" as "$adm" node add v2 --mac 52:54:00:00:24:02 --profile virtual --vm local
equal "v2's params" "$(sql "select power_driver, power_params from nodes where name = 'v2'")" \
    'vm|{"mem": "512", "cpus": "1", "disk": "4096", "host": "local"}'
expect_fail 7 "node v3: vm host local: 8192 of its 8192 MiB of disk given, 64 asked" \
    as "$adm" node add v3 --mac 52:54:00:00:24:03 --profile virtual --vm local --disk 64M
expect_fail 7 "node v3: vm host local: 3 of its 4 vCPUs given, 2 asked" \
    as "$adm" node add v3 --mac 52:54:00:00:24:03 --profile virtual --vm local --cpus 2
expect_fail 7 "node v3: vm host local: 1536 of its 2048 MiB of memory given, 1024 asked" \
    as "$adm" node add v3 --mac 52:54:00:00:24:03 --profile virtual --vm local --mem 1G
expect_fail 6 "node v3: vm host nosuch: no such host" \
    as "$adm" node add v3 --mac 52:54:00:00:24:03 --profile virtual --vm nosuch
expect_fail 2 "--cpus: only with --vm" as "$adm" node add v3 --mac 52:54:00:00:24:03 --profile virtual --cpus 2
expect_fail 2 "power_params: \"cpus\": 1 to 64 vCPUs" \
    as "$adm" node add v3 --mac 52:54:00:00:24:03 --profile virtual --vm local --cpus 0
expect_fail 2 "power_params: \"bridge\": -x: not an interface name" \
    as "$adm" node add v3 --mac 52:54:00:00:24:03 --profile virtual --power vm \
    --power-param host=local --power-param cpus=1 --power-param mem=64 --power-param disk=64 --power-param bridge=-x
equal "no v3" "$(sql "select count(*) from nodes where name = 'v3'")" 0
expect_fail 7 "node v2: vm host local: 2 of its 4 vCPUs given, 3 asked" \
    as "$adm" node set v2 --power vm --power-param host=local --power-param cpus=3 --power-param mem=512 --power-param disk=64
equal "... v2 unchanged" "$(sql "select power_params->>'cpus' from nodes where name = 'v2'")" 1
check "v2 set to 2 vCPUs and 64 MiB of disk: it fits" \
    as "$adm" node set v2 --power vm --power-param host=local --power-param cpus=2 --power-param mem=512 --power-param disk=64
expect_fail 7 "vm host local: its nodes take 4 vCPUs, 1536 MiB of memory, 4160 MiB of disk" \
    as "$adm" vmhost add local --bridge br0 --cpus 3 --mem 2G --disk 8G
expect_fail 7 "vm host local: nodes run on it (v1, v2)" as "$adm" vmhost rm local
equal "vmhost list" "$(as "$al" vmhost list | tail -1 | tr -s ' ')" "local br0 4/4 1536/2048 4160/8192 v1,v2"
expect_fail 7 "node v1: a virtual node is not wiped: its disk is discarded at the end of each reservation" \
    as "$adm" node set v1 --wipe on
equal "... v1's wipe still off" "$(sql "select wipe from nodes where name = 'v1'")" f

# run-time params: this pipold's bridge and the node's MAC, whatever the row says
# (and its id, QEMU's uid: a row's "id" of 0 would make it root)
sql "update nodes set power_params = power_params || '{\"bridge\": \"evil0\", \"mac\": \"52:54:00:00:66:66\", \"id\": \"0\"}' where name = 'v1'" > /dev/null
equal "node_power: the host's bridge, the node's MAC and id win" \
    "$(sql "select node_power(n)->>'bridge', node_power(n)->>'mac', node_power(n)->>'id' = n.id::text from nodes n where name = 'v1'")" "br0|52:54:00:00:24:01|t"
equal "v1, never deployed: off (no QEMU)" "$(as "$adm" node power v1 status)" "v1: off (no QEMU)"
expect_fail 7 "node v1: no disk yet (a deployment makes it)" as "$adm" node power v1 on
equal "no machine, no file made but the lock" "$(ls "$PIPOL_STATE/vms" | grep -v '\.lock$' | wc -l)" 0

# a host without nodes is removed
check "a spare host" as "$adm" vmhost add spare --bridge br1 --cpus 1 --mem 64M --disk 64M
check "removed" as "$adm" vmhost rm spare
expect_fail 6 "vm host spare: no such host" as "$adm" vmhost rm spare
kill -0 "$DPID" 2>/dev/null && ok "pipold still runs" || notok "pipold still runs"
