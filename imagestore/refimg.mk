# imagestore/refimg.mk -- the Debian 12 reference images, not part of
# 'all' (root; the first build debootstraps for about 5 minutes):
#   make refimg    build/refimg/debian12-{bios,uefi,mac}.img, and beside each
#                  a .meta file: the lines refimg.sh prints (root=, esp=...)
# refimg.sh keeps its own cache (${PIPOL_CACHE:-/var/cache/pipol}/refimg)
# and knows when to rebuild (package versions), so the target always runs
# it: a cached run takes seconds.
REFIMG_FLAVOUR ?= cloud

.PHONY: refimg
refimg:
	@mkdir -p $(B)/refimg
	imagestore/refimg.sh --kernel-flavour $(REFIMG_FLAVOUR) bios \
	    $(B)/refimg/debian12-bios.img > $(B)/refimg/debian12-bios.meta
	imagestore/refimg.sh --kernel-flavour $(REFIMG_FLAVOUR) uefi \
	    $(B)/refimg/debian12-uefi.img > $(B)/refimg/debian12-uefi.meta
	imagestore/refimg.sh --kernel-flavour $(REFIMG_FLAVOUR) mac \
	    $(B)/refimg/debian12-mac.img > $(B)/refimg/debian12-mac.meta
