# imagestore/: the format and the store, one static library.
IMG_SRC = $(wildcard imagestore/*.c)
IMG_OBJ = $(IMG_SRC:%.c=$(B)/%.o)
LIBPIMG = $(B)/libpimg.a

$(LIBPIMG): $(IMG_OBJ) $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

all: $(LIBPIMG)
