/*
 * auth.c -- API tokens: 256 random bits, shown once as 64 hex digits,
 * kept only as the SHA-256 of that text. A request's bearer token is
 * hashed and looked up; the hash found is compared again in constant
 * time before it is trusted.
 */
#include <sys/random.h>
#include <openssl/crypto.h>
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "hash.h"
#include "pipold.h"

int
auth_token_new(char hex[65], uint8_t hash[32], struct perr *e)
{
	uint8_t raw[32];
	ssize_t n;

	do
		n = getrandom(raw, sizeof(raw), 0);
	while (n == -1 && errno == EINTR);
	if (n != (ssize_t)sizeof(raw))
		return perr_errno(e, PE_FAIL, "getrandom");
	hash_hex(raw, hex);
	hash_buf(hex, 64, hash);
	OPENSSL_cleanse(raw, sizeof(raw));
	return 0;
}

/* The SHA-256 of the bearer token of c; -1 when there is none. */
int
auth_bearer_hash(struct MHD_Connection *c, uint8_t hash[32])
{
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_AUTHORIZATION);
	size_t i;

	if (h == NULL || strncmp(h, "Bearer ", 7) != 0)
		return -1;
	h += 7;
	if (strlen(h) != 64)
		return -1;
	for (i = 0; i < 64; i++)
		if (!isxdigit((unsigned char)h[i]) || isupper((unsigned char)h[i]))
			return -1;
	hash_buf(h, 64, hash);
	return 0;
}

int
auth_same(const uint8_t a[32], const uint8_t b[32])
{
	return CRYPTO_memcmp(a, b, 32) == 0;
}
