/* hash.h -- names chunks by SHA-256 (libcrypto EVP). Knows nothing of files. */
#ifndef HASH_H
#define HASH_H

#include <stddef.h>
#include <stdint.h>

#define HASH_BYTES 32
#define HASH_HEX 65		/* 64 hex digits and a NUL */

struct hash_ctx;

void hash_buf(const void *buf, size_t len, uint8_t out[HASH_BYTES]);
void hash_hex(const uint8_t h[HASH_BYTES], char out[HASH_HEX]);
/* 0 on success, -1 if s is not exactly 64 hex digits. */
int hash_from_hex(const char *s, uint8_t out[HASH_BYTES]);

/* Incremental hashing; new returns NULL only when out of memory. */
struct hash_ctx *hash_new(void);
void hash_update(struct hash_ctx *c, const void *buf, size_t len);
void hash_final(struct hash_ctx *c, uint8_t out[HASH_BYTES]);
void hash_free(struct hash_ctx *c);

#endif
