# initrd/: pipol-agent. Linked dynamically: Debian's static libcurl needs
# Kerberos and LDAP static libraries Debian does not ship; bootenv copies
# the exact shared-library closure (ldd) into the initramfs.
AGENT_SRC = $(wildcard initrd/*.c)
AGENT_OBJ = $(AGENT_SRC:%.c=$(B)/%.o)
AGENT_LIBS = -lcurl -ljansson

$(B)/pipol-agent: $(AGENT_OBJ) $(LIBPIMG)
	$(CC) $(LDFLAGS) -o $@ $^ $(AGENT_LIBS) $(IMG_LIBS)

$(B)/initrd/%.o: CPPFLAGS += -Iinitrd

all: $(B)/pipol-agent
