/* pimg_chunk_test.c -- both codecs: round trips and every decode error. */
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "harness.h"
#include "perr.h"
#include "pimg.h"

#define N (1u << 20)

static unsigned char raw[N], out[N], comp[N + N / 8 + 4096];

static void
fill(unsigned seed)
{
	unsigned i, x = seed;

	for (i = 0; i < N; i++) {
		x = x * 1103515245u + 12345u;
		/* compressible but not trivial: runs and text-like bytes */
		raw[i] = (i & 4096) ? 0 : (unsigned char)('a' + (x >> 16) % 7);
	}
}

static size_t
encode(int codec, const void *src, size_t len)
{
	struct pimg_coder *c = pimg_coder_new(codec, 0);
	struct perr e;
	size_t n = 0;

	CHECK(c != NULL);
	CHECK(pimg_chunk_encode(c, src, len, comp, sizeof(comp), &n, &e) == 0);
	pimg_coder_free(c);
	return n;
}

static int
decode(int codec, size_t clen, size_t rlen, uint32_t *crc, struct perr *e)
{
	struct pimg_coder *c = pimg_coder_new(codec, 0);
	int rc = pimg_chunk_decode(c, comp, clen, out, rlen, crc, e);

	pimg_coder_free(c);
	return rc;
}

static void
round_trips(void)
{
	static const size_t lens[] = { N, N - 1, 511, 1, 4097 };
	int codec;
	uint32_t crc;
	struct perr e;
	size_t i, n;

	fill(1);
	for (codec = 1; codec <= 2; codec++)
		for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
			n = encode(codec, raw, lens[i]);
			CHECK(n > 0 && n < lens[i] + 1024);
			CHECK(decode(codec, n, lens[i], &crc, &e) == 0);
			CHECK(memcmp(out, raw, lens[i]) == 0);
			CHECK(crc == pimg_crc32(raw, lens[i]));
		}
}

/* A member we write must be plain RFC 1952: zlib reads it back. */
static void
zlib_reads_our_member(void)
{
	z_stream z;
	size_t n;

	fill(2);
	n = encode(PIMG_CODEC_GZIP, raw, N);
	memset(&z, 0, sizeof(z));
	CHECK(inflateInit2(&z, 16 + MAX_WBITS) == Z_OK);
	z.next_in = comp;
	z.avail_in = (uInt)n;
	z.next_out = out;
	z.avail_out = N;
	CHECK(inflate(&z, Z_FINISH) == Z_STREAM_END);
	CHECK(z.total_out == N && memcmp(out, raw, N) == 0);
	inflateEnd(&z);
}

static void
gzip_errors(void)
{
	uint32_t crc;
	struct perr e;
	size_t n;

	fill(3);
	n = encode(PIMG_CODEC_GZIP, raw, N);
	comp[n - 8] ^= 1;			/* trailer CRC */
	CHECK(decode(PIMG_CODEC_GZIP, n, N, &crc, &e) == -PE_DATA);
	CHECK(strcmp(e.msg, "CRC mismatch") == 0);
	comp[n - 8] ^= 1;
	comp[n - 4] ^= 1;			/* trailer ISIZE */
	CHECK(decode(PIMG_CODEC_GZIP, n, N, &crc, &e) == -PE_DATA);
	CHECK(strncmp(e.msg, "length mismatch", 15) == 0);
	comp[n - 4] ^= 1;
	CHECK(decode(PIMG_CODEC_GZIP, n, N - 1, &crc, &e) == -PE_DATA);
	CHECK(strncmp(e.msg, "length mismatch", 15) == 0);
	CHECK(decode(PIMG_CODEC_GZIP, n - 1, N, &crc, &e) == -PE_DATA);
	comp[0] = 0;
	CHECK(decode(PIMG_CODEC_GZIP, n, N, &crc, &e) == -PE_DATA);
	CHECK(strcmp(e.msg, "not a gzip member") == 0);
	CHECK(decode(PIMG_CODEC_GZIP, 5, N, &crc, &e) == -PE_DATA);
}

static void
zstd_errors(void)
{
	uint32_t crc;
	struct perr e;
	size_t n;

	fill(4);
	n = encode(PIMG_CODEC_ZSTD, raw, N);
	CHECK(decode(PIMG_CODEC_ZSTD, n, N - 1, &crc, &e) == -PE_DATA);
	CHECK(strncmp(e.msg, "length mismatch", 15) == 0);
	CHECK(decode(PIMG_CODEC_ZSTD, n - 3, N, &crc, &e) == -PE_DATA);
	comp[0] ^= 0xff;
	CHECK(decode(PIMG_CODEC_ZSTD, n, N, &crc, &e) == -PE_DATA);
	CHECK(strcmp(e.msg, "not a zstd frame") == 0);
}

/* What pipold reads of an uploaded member before it decodes it. */
static void
raw_len_claims(void)
{
	struct perr e;
	uint64_t got = 0;
	ZSTD_CCtx *z;
	size_t n;

	fill(5);
	n = encode(PIMG_CODEC_GZIP, raw, 4097);
	CHECK(pimg_chunk_raw_len(PIMG_CODEC_GZIP, comp, n, &got, &e) == 0);
	CHECK(got == 4097);
	n = encode(PIMG_CODEC_ZSTD, raw, N);
	CHECK(pimg_chunk_raw_len(PIMG_CODEC_ZSTD, comp, n, &got, &e) == 0);
	CHECK(got == N);
	CHECK(pimg_chunk_raw_len(PIMG_CODEC_GZIP, comp, n, &got, &e) ==
	    -PE_DATA);
	CHECK(strcmp(e.msg, "not a gzip member") == 0);
	CHECK(pimg_chunk_raw_len(PIMG_CODEC_ZSTD, comp, 3, &got, &e) ==
	    -PE_DATA);
	CHECK(strcmp(e.msg, "not a zstd frame") == 0);
	/* a frame that does not state its size is refused: pipold would
	 * not know how much to decode */
	z = ZSTD_createCCtx();
	CHECK(z != NULL);
	ZSTD_CCtx_setParameter(z, ZSTD_c_contentSizeFlag, 0);
	n = ZSTD_compress2(z, comp, sizeof(comp), raw, N);
	ZSTD_freeCCtx(z);
	CHECK(!ZSTD_isError(n));
	CHECK(pimg_chunk_raw_len(PIMG_CODEC_ZSTD, comp, n, &got, &e) ==
	    -PE_DATA);
	CHECK(strcmp(e.msg, "zstd frame without its content size") == 0);
}

static void
zero_test(void)
{
	memset(raw, 0, N);
	CHECK(pimg_is_zero(raw, N));
	raw[N - 1] = 1;
	CHECK(!pimg_is_zero(raw, N));
	CHECK(pimg_is_zero(raw, 0));
}

int
main(void)
{
	RUN(round_trips);
	RUN(zlib_reads_our_member);
	RUN(gzip_errors);
	RUN(zstd_errors);
	RUN(raw_len_claims);
	RUN(zero_test);
	DONE();
}
