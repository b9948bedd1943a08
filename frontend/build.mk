# frontend/: the pipol command line and pipold.
PIPOL_SRC = $(wildcard frontend/cli/*.c)
PIPOL_OBJ = $(PIPOL_SRC:%.c=$(B)/%.o)

$(B)/pipol: $(PIPOL_OBJ) $(LIBPIMG)
	$(CC) $(LDFLAGS) -o $@ $^ -lcurl -ljansson $(IMG_LIBS)

$(B)/frontend/cli/%.o: CPPFLAGS += -Ifrontend/cli

# pipold carries its schema and its iPXE templates: generated C tables
PIPOLD_SRC = $(wildcard frontend/*.c)
PIPOLD_OBJ = $(PIPOLD_SRC:%.c=$(B)/%.o) $(B)/frontend/schema_sql.o \
	$(B)/frontend/ipxe_templates.o
PIPOLD_LIBS = -lmicrohttpd -lpq -ljansson

$(B)/frontend/schema_sql.c: frontend/schema/embed.sh $(sort $(wildcard frontend/schema/*.sql))
	@mkdir -p $(dir $@)
	sh $^ > $@

$(B)/frontend/ipxe_templates.c: ipxe/embed.sh $(sort $(wildcard ipxe/*.ipxe elilo/*.conf grub/*.cfg))
	@mkdir -p $(dir $@)
	sh $^ > $@

PG_INC = $(shell pg_config --includedir 2>/dev/null || echo /usr/include/postgresql)
$(B)/frontend/%.o: CPPFLAGS += -iquote frontend -I$(PG_INC)

# everything but main: unit tests link any module from the archive
LIBPIPOLD = $(B)/libpipold.a
$(LIBPIPOLD): $(filter-out $(B)/frontend/pipold.o,$(PIPOLD_OBJ))
	@mkdir -p $(dir $@)
	rm -f $@ && $(AR) rcs $@ $^

$(B)/pipold: $(B)/frontend/pipold.o $(LIBPIPOLD) $(LIBPIMG)
	$(CC) $(LDFLAGS) -o $@ $^ $(PIPOLD_LIBS) $(IMG_LIBS)

all: $(B)/pipol $(B)/pipold


# web (frontend/web.h): the pages and the manuals they show, embedded
$(LIBPIPOLD): $(B)/frontend/web_files_gen.o
$(B)/frontend/web_files_gen.c: frontend/web/embed.sh $(sort $(wildcard frontend/web/*.html frontend/web/*.js frontend/web/*.css frontend/web/*.svg frontend/web/vendor/*.mjs frontend/web/vendor/*.css)) docs/user.md docs/admin.md
	@mkdir -p $(dir $@)
	sh $^ > $@
