/* hash.c -- SHA-256 through EVP, which uses the CPU's SHA instructions. */
#include <openssl/evp.h>
#include <string.h>

#include "hash.h"

void
hash_buf(const void *buf, size_t len, uint8_t out[HASH_BYTES])
{
	EVP_Digest(buf, len, out, NULL, EVP_sha256(), NULL);
}

void
hash_hex(const uint8_t h[HASH_BYTES], char out[HASH_HEX])
{
	static const char hx[] = "0123456789abcdef";
	int i;

	for (i = 0; i < HASH_BYTES; i++) {
		out[2 * i] = hx[h[i] >> 4];
		out[2 * i + 1] = hx[h[i] & 15];
	}
	out[2 * HASH_BYTES] = '\0';
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int
hash_from_hex(const char *s, uint8_t out[HASH_BYTES])
{
	int i, hi, lo;

	if (strlen(s) != 2 * HASH_BYTES)
		return -1;
	for (i = 0; i < HASH_BYTES; i++) {
		hi = hexval(s[2 * i]);
		lo = hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

struct hash_ctx *
hash_new(void)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	if (c != NULL && EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(c);
		return NULL;
	}
	return (struct hash_ctx *)c;
}

void
hash_update(struct hash_ctx *c, const void *buf, size_t len)
{
	EVP_DigestUpdate((EVP_MD_CTX *)c, buf, len);
}

void
hash_final(struct hash_ctx *c, uint8_t out[HASH_BYTES])
{
	EVP_DigestFinal_ex((EVP_MD_CTX *)c, out, NULL);
}

void
hash_free(struct hash_ctx *c)
{
	EVP_MD_CTX_free((EVP_MD_CTX *)c);
}
