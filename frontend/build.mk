# frontend/: the pipol command line (pipold comes with the frontend issue).
PIPOL_SRC = $(wildcard frontend/cli/*.c)
PIPOL_OBJ = $(PIPOL_SRC:%.c=$(B)/%.o)

$(B)/pipol: $(PIPOL_OBJ) $(LIBPIMG)
	$(CC) $(LDFLAGS) -o $@ $^ $(IMG_LIBS)

$(B)/frontend/cli/%.o: CPPFLAGS += -Ifrontend/cli

all: $(B)/pipol
