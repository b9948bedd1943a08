# initrd/: pipol-agent. Linked dynamically: Debian's static libcurl needs
# Kerberos and LDAP static libraries Debian does not ship; bootenv copies
# the exact shared-library closure (ldd) into the initramfs.
AGENT_SRC = $(wildcard initrd/*.c)
AGENT_OBJ = $(AGENT_SRC:%.c=$(B)/%.o)
AGENT_LIBS = -lcurl -ljansson

# everything but main: unit tests link any module from the archive
LIBAGENT = $(B)/libagent.a
$(LIBAGENT): $(filter-out $(B)/initrd/agent.o,$(AGENT_OBJ))
	@mkdir -p $(dir $@)
	rm -f $@ && $(AR) rcs $@ $^

$(B)/pipol-agent: $(B)/initrd/agent.o $(LIBAGENT) $(LIBPIMG)
	$(CC) $(LDFLAGS) -o $@ $^ $(AGENT_LIBS) $(IMG_LIBS)

# -iquote: initrd/limits.h must not stand in for <limits.h>
$(B)/initrd/%.o: CPPFLAGS += -iquote initrd

all: $(B)/pipol-agent
