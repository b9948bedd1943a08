#!/bin/bash
# web_deploy: the web interface's deploy on a QEMU node of the test
# network (tests/net/e2e_lib.sh, profile pc-bios: SeaBIOS and iPXE):
# alice deploys testimg onto n1 from the page's form in a headless
# Chromium run in the network's namespace (tests/web/web_deploy.py),
# and the deployment's page, fed by server-sent events, reaches ready
# without a reload, while n1's console page (a second browser) shows
# the deployment's and the deployed system's lines from the VM's serial
# line. One node, once (~2 min under TCG). Screenshots in
# $T/shots (WEB_SHOTS=DIR keeps them).
PROFILE=pc-bios
. "$(dirname "$0")/../lib.sh"
export PYTHONDONTWRITEBYTECODE=1	# no __pycache__ in tests/web
. "$TOP/tests/net/testnet.sh"
. "$TOP/tests/net/e2e_lib.sh"

printf '#!/bin/sh\necho rc says hello\n' > "$T/rc.testimg"
alice script add "$T/rc.testimg" > /dev/null && ok "alice's rc script" || notok "alice's rc script"
equal "n1's console: the qemu power param serial" \
    "$(pipol node set n1 --power qemu --power-param qmp="$NET_DIR/n1.qmp" \
    --power-param serial="$NET_DIR/n1.serial" | head -1)" "n1: power qemu"
check "n1: bios node, blank disk, off" net_node n1 52:54:00:99:00:21 "$T/n1.disk" bios -S
net_mark n1
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] && /usr/bin/python3 -c "import selenium" 2>/dev/null; then
	net_exec /usr/bin/python3 "$TOP/tests/web/web_deploy.py" "$NET_URL" "$al" "${WEB_SHOTS:-$T/shots}" ||
	    { notok "web_deploy.py: exit 0"; tr -d '\r' < "$NET_DIR/n1.log" | tail -30 >&2; }
else
	notok "chromium, chromium-driver, python3-selenium (tests/deps.sh test)"
fi
equal "the deployment is ready in pipold" "$(alice status --json | jq -r '[.deployments[] | select(.node == "n1")][0].state')" ready
net_node_stop n1
