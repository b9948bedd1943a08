# tests/: unit test binaries (one per module) and the fuzz targets.
UNIT_SRC = $(wildcard tests/unit/*_test.c)
UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)

# A unit test of any module needs no rule of its own: the agent's and
# pipold's modules are archives (all but their main), linked as needed.
$(B)/tests/%: $(B)/tests/unit/%.o $(LIBAGENT) $(LIBPIPOLD) $(LIBPIMG)
	$(CC) $(LDFLAGS) -o $@ $^ $(AGENT_LIBS) $(PIPOLD_LIBS) $(IMG_LIBS)

$(B)/tests/unit/%.o: CPPFLAGS += -Itests -iquote initrd -iquote frontend \
	-I$(PG_INC)

all: $(UNIT_BIN)

# libFuzzer targets: clang only, built on demand by tests/run.sh.
FUZZ_SRC = $(wildcard tests/fuzz/*_fuzz.c)
FUZZ_BIN = $(FUZZ_SRC:tests/fuzz/%.c=build-fuzz/%)
FUZZ_FLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE \
	-Icommon -Iimagestore -pthread

build-fuzz/%: tests/fuzz/%.c $(IMG_SRC) $(COMMON_SRC)
	@mkdir -p build-fuzz
	clang $(FUZZ_FLAGS) -o $@ $^ $(IMG_LIBS) -ljansson

# the WebSocket reader (frontend/ws.c): a browser's bytes
build-fuzz/ws_fuzz: tests/fuzz/ws_fuzz.c frontend/ws.c
	@mkdir -p build-fuzz
	clang $(FUZZ_FLAGS) -iquote frontend -o $@ $^ -lcrypto

fuzz: $(FUZZ_BIN)

# test tools (not installed)
$(B)/tests/pimg_mangle: $(B)/tests/tools/pimg_mangle.o $(LIBPIMG)
	$(CC) $(LDFLAGS) -o $@ $^ $(IMG_LIBS)

all: $(B)/tests/pimg_mangle

$(B)/tests/testhttpd: $(B)/tests/tools/testhttpd.o $(LIBPIMG)
	$(CC) $(LDFLAGS) -o $@ $^ -lmicrohttpd

all: $(B)/tests/testhttpd

$(B)/tests/crcforge: $(B)/tests/tools/crcforge.o
	$(CC) $(LDFLAGS) -o $@ $^ -lz

all: $(B)/tests/crcforge

# bench tool: N agents reporting progress (tests/bench/progress.sh)
$(B)/tests/progressload: $(B)/tests/tools/progressload.o $(LIBPIMG)
	$(CC) $(LDFLAGS) -o $@ $^ -lcurl -lm $(IMG_LIBS)

all: $(B)/tests/progressload

