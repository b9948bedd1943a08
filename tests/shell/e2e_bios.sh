#!/bin/bash
# e2e_bios: the whole BIOS cycle on a QEMU node (tests/net/cycle.sh bios):
# PXE, deploy, post-install, reboot, first-boot ready, SSH, a reset.
exec bash "$(dirname "$0")/../net/cycle.sh" bios
