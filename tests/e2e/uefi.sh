#!/bin/bash
# e2e uefi: the whole UEFI cycle on a QEMU node whose firmware (OVMF)
# takes the real-hardware chain, PXE -> snponly.efi over TFTP -> iPXE ->
# pipold (tests/net/cycle.sh uefi-snp), then two resets through pipold
# back to the deployed system.
exec bash "$(dirname "$0")/../net/cycle.sh" uefi-snp
