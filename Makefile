# pipol -- plain GNU make, no recursion: each folder adds its build.mk.
#   make          build everything that exists (into build/)
#   make test     install missing Debian packages, build, run the suite
#   make bench    the benchmarks (not part of make test)
#   make asan     the same binaries with AddressSanitizer, in build-asan/
#   make tsan     the same with ThreadSanitizer, in build-tsan/, and the
#                 agent's threaded tests run under it
#   make refimg   the Debian 12 reference disk images, in build/refimg/

B        ?= build
CC       ?= gcc
OPT      ?= -O2 -g
CFLAGS   += $(OPT) -std=gnu11 -pthread -Wall -Wextra -Werror -Wshadow \
	    -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
	    -Wpointer-arith -Wcast-qual -Wno-format-truncation
CPPFLAGS += -D_GNU_SOURCE -Icommon -Iimagestore
LDFLAGS  += -pthread
IMG_LIBS  = -ldeflate -lzstd -lz -lcrypto

.PHONY: all test test-e2e bench asan tsan tsan-build fuzz deps clean demo demo-stop
all:

include common/build.mk
include imagestore/build.mk
include frontend/build.mk
include initrd/build.mk
include bootenv/build.mk
include imagestore/refimg.mk
include tests/build.mk

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

-include $(shell find $(B) -name '*.d' 2>/dev/null)

deps:
	@tests/deps.sh test

test: deps
	@$(MAKE) --no-print-directory all
	@tests/run.sh $(T)

# the longer boot tests (tests/e2e: the UEFI cycle ...)
test-e2e: deps
	@$(MAKE) --no-print-directory all
	@tests/run.sh --e2e

bench: deps
	@tests/deps.sh bench
	@$(MAKE) --no-print-directory all bootenv
	@tests/bench/run.sh

asan:
	@$(MAKE) --no-print-directory B=build-asan OPT='-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer' \
	    LDFLAGS='-pthread -fsanitize=address,undefined' all

# the same binaries with ThreadSanitizer, in build-tsan/ (built by
# tests/run.sh for its tsan group); make tsan runs that group alone
tsan-build:
	@$(MAKE) --no-print-directory B=build-tsan OPT='-O1 -g -fsanitize=thread -fno-omit-frame-pointer' \
	    LDFLAGS='-pthread -fsanitize=thread' all

tsan:
	@tests/run.sh tsan

# the whole path on this machine: QEMU nodes PXE-boot, deploy the Debian
# reference images, come up ready (demo/demo.sh; Ctrl-C or demo-stop)
demo:
	@tests/deps.sh demo
	@$(MAKE) --no-print-directory all bootenv
	@demo/demo.sh

demo-stop:
	@demo/demo.sh stop

clean:
	rm -rf build build-asan build-tsan build-fuzz
