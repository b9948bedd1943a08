/* boot.h -- the iPXE templates pipold carries (ipxe/NAME.ipxe, embedded). */
#ifndef BOOT_H
#define BOOT_H

struct boot_template {
	const char *name;	/* file name without .ipxe */
	const char *text;
};

extern const struct boot_template boot_templates[];

#endif
