/*
 * pimg_index_fuzz.c -- libFuzzer target: any bytes as an index, and as a
 * whole .pimg whose tail is parsed. Must never crash, leak or read out
 * of bounds; whatever is accepted must re-encode to the same bytes.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "perr.h"
#include "pimg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct pimg_index *ix = NULL;
	struct perr e;
	uint8_t *again;
	size_t n;
	int fd;

	if (pimg_index_decode(data, len, "fuzz", &ix, &e) == 0) {
		if (pimg_index_encode(ix, &again, &n, &e) == 0) {
			if (n != len || memcmp(again, data, len) != 0)
				abort();
			free(again);
		}
		pimg_index_free(ix);
		ix = NULL;
	}
	if ((fd = memfd_create("pimg", 0)) < 0)
		return 0;
	if (write(fd, data, len) == (ssize_t)len &&
	    pimg_file_read_index(fd, len, "fuzz", &ix, &e) == 0)
		pimg_index_free(ix);
	close(fd);
	return 0;
}
