/*
 * pimg_mangle.c -- test tool: rewrite the index of a .pimg so that it is
 * well-formed and checksummed but lies about its members, the way a
 * buggy or hostile producer would. Usage: pimg_mangle FILE OP CHUNK
 * OP: crc | hash | zero | diskhash. The file is changed in place.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "perr.h"
#include "pimg.h"

int
main(int argc, char **argv)
{
	struct pimg_index *ix;
	struct perr e;
	struct stat st;
	uint64_t members;
	unsigned n;
	int fd;

	if (argc != 4)
		return fprintf(stderr, "usage: pimg_mangle FILE OP CHUNK\n"), 2;
	n = (unsigned)atoi(argv[3]);
	if ((fd = open(argv[1], O_RDWR)) == -1 || fstat(fd, &st) == -1 ||
	    pimg_file_read_index(fd, (uint64_t)st.st_size, argv[1], &ix,
	    &e) < 0)
		return fprintf(stderr, "pimg_mangle: cannot read index\n"), 1;
	if (n >= ix->nchunks)
		return fprintf(stderr, "pimg_mangle: no chunk %u\n", n), 2;
	if (strcmp(argv[2], "crc") == 0)
		ix->e[n].crc32 ^= 1;
	else if (strcmp(argv[2], "hash") == 0)
		ix->e[n].hash[0] ^= 1;
	else if (strcmp(argv[2], "zero") == 0)
		ix->e[n].flags ^= PIMG_F_ZERO;
	else if (strcmp(argv[2], "diskhash") == 0)
		ix->disk_hash[0] ^= 1;
	else
		return fprintf(stderr, "pimg_mangle: unknown op\n"), 2;
	if (strcmp(argv[2], "diskhash") != 0)	/* stay self-consistent */
		pimg_disk_hash(ix, ix->disk_hash);
	members = pimg_index_layout(ix);
	if (ftruncate(fd, (off_t)members) == -1 ||
	    lseek(fd, (off_t)members, SEEK_SET) == -1 ||
	    pimg_file_write_tail(fd, ix, members, &e) < 0)
		return fprintf(stderr, "pimg_mangle: write failed\n"), 1;
	pimg_index_free(ix);
	close(fd);
	return 0;
}
