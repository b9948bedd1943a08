/*
 * crcforge.c -- test tool: plant bytes in a range of a file while keeping
 * the range's CRC32 unchanged, the way the previous holder of a node
 * (root on that disk) could fool a deployment tool that trusted CRC32.
 * Usage: crcforge FILE OFFSET LEN. Writes "PLANTED" in the middle of the
 * range, then rewrites its last 4 bytes so that the CRC32 of the range
 * is what it was. CRC32 is affine: 4 bytes can steer it anywhere.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

static uint32_t table[256];

static void
make_table(void)
{
	uint32_t c, n, k;

	for (n = 0; n < 256; n++) {
		for (c = n, k = 0; k < 8; k++)
			c = (c & 1) ? 0xedb88320u ^ (c >> 1) : (c >> 1) + 0u;
		table[n] = c;
	}
}

/* Undo one zero-byte step: each table entry has a distinct top byte. */
static uint32_t
unstep(uint32_t s)
{
	uint32_t j;

	for (j = 0; j < 256; j++)
		if ((table[j] >> 24) == (s >> 24))
			return ((s ^ table[j]) << 8) | j;
	abort();
}

int
main(int argc, char **argv)
{
	unsigned char *buf;
	uint32_t want, state, s;
	long long off, len;
	int fd, i;

	if (argc != 4)
		return fprintf(stderr, "usage: crcforge FILE OFFSET LEN\n"), 2;
	off = atoll(argv[2]);
	len = atoll(argv[3]);
	if (len < 64 || (buf = malloc((size_t)len)) == NULL ||
	    (fd = open(argv[1], O_RDWR)) == -1 ||
	    pread(fd, buf, (size_t)len, off) != len)
		return fprintf(stderr, "crcforge: cannot read\n"), 1;
	make_table();
	want = (uint32_t)crc32(0, buf, (uInt)len);
	memcpy(buf + len / 2, "PLANTED", 7);
	/* internal state after all but the last 4 bytes (init ~0) */
	state = ~(uint32_t)crc32(0, buf, (uInt)(len - 4));
	/* 4 bytes b fed to state S give Z4(S ^ b): invert Z4 from ~want */
	for (s = ~want, i = 0; i < 4; i++)
		s = unstep(s);
	s ^= state;
	for (i = 0; i < 4; i++)
		buf[len - 4 + i] = (unsigned char)(s >> (8 * i));
	if ((uint32_t)crc32(0, buf, (uInt)len) != want)
		return fprintf(stderr, "crcforge: forging failed\n"), 1;
	if (pwrite(fd, buf, (size_t)len, off) != len)
		return fprintf(stderr, "crcforge: cannot write\n"), 1;
	close(fd);
	return 0;
}
