# bootenv/: the deployment environment, kernel and initramfs per flavour
# (bootenv/build.sh; fetches the Debian kernel package once, then cached).
# Not part of 'all': 'make bootenv' (cloud), 'make bootenv-generic'.
BOOTENV_SRC = bootenv/build.sh bootenv/init bootenv/udhcpc.script \
	bootenv/modules.list

$(B)/bootenv/%/initrd.img: $(BOOTENV_SRC) $(B)/pipol-agent
	bootenv/build.sh --agent $(B)/pipol-agent $* $(B)/bootenv/$*

.PHONY: bootenv bootenv-generic
bootenv: $(B)/bootenv/cloud/initrd.img
bootenv-generic: $(B)/bootenv/generic/initrd.img
