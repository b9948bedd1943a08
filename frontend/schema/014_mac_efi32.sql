-- 014_mac_efi32.sql -- the profile mac-efi32: the first Intel Macs
-- (2006-2007), 32-bit EFI firmware on 64-bit CPUs. Their firmware PXE
-- (client architecture 6, EFI IA32) gets an IA32 GRUB that asks pipold
-- for the node's GRUB script (grub/README.md); the agent keeps the
-- network first in Apple's efi-boot-device and in BootOrder.

ALTER TABLE nodes DROP CONSTRAINT nodes_profile_check;
ALTER TABLE nodes ADD CONSTRAINT nodes_profile_check CHECK (profile IN
	('pc-bios', 'uefi', 'netboot-only', 'virtual', 'mac-efi32'));
