# common/: helpers shared by every binary, no pipol policy.
COMMON_SRC = $(wildcard common/*.c)
COMMON_OBJ = $(COMMON_SRC:%.c=$(B)/%.o)
