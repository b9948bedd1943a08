/*
 * pimg_chunk_fuzz.c -- libFuzzer target for the member decoder: the
 * first byte picks the codec and the expected raw length, the rest is
 * the member. Then the path of an upload to pipold: the length the
 * member claims, and a decode to that length. Must never crash or
 * write past the output buffer.
 */
#include <stdlib.h>
#include <string.h>

#include "perr.h"
#include "pimg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static struct pimg_coder *gz, *zs;
	static uint8_t raw[1u << 16];
	uint64_t claimed;
	size_t raw_len;
	struct perr e;
	uint32_t crc;
	int rc;

	if (gz == NULL) {
		gz = pimg_coder_new(PIMG_CODEC_GZIP, 0);
		zs = pimg_coder_new(PIMG_CODEC_ZSTD, 0);
	}
	if (len < 1)
		return 0;
	raw_len = ((size_t)(data[0] >> 1) + 1) * 512;
	rc = pimg_chunk_decode(data[0] & 1 ? zs : gz, data + 1, len - 1, raw,
	    raw_len, &crc, &e);
	if (rc == 0 && crc != pimg_crc32(raw, raw_len))
		abort();
	if (pimg_chunk_raw_len(data[0] & 1 ? PIMG_CODEC_ZSTD :
	    PIMG_CODEC_GZIP, data + 1, len - 1, &claimed, &e) == 0 &&
	    claimed > 0 && claimed <= sizeof(raw))
		rc = pimg_chunk_decode(data[0] & 1 ? zs : gz, data + 1,
		    len - 1, raw, (size_t)claimed, &crc, &e);
	return 0;
}
