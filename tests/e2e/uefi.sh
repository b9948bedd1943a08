#!/bin/bash
# e2e uefi: the whole UEFI cycle on a QEMU node whose firmware (OVMF)
# takes the real-hardware chain, PXE -> snponly.efi over TFTP -> iPXE ->
# pipold (tests/net/cycle.sh uefi-snp), then a reset through pipold
# back to the deployed system. Deployed with --no-kexec: the hand-over
# by the firmware's reboot stays tested (e2e_bios tests the kexec one).
CYCLE_DEPLOY_OPTS=--no-kexec exec bash "$(dirname "$0")/../net/cycle.sh" uefi-snp
