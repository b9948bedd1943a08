/*
 * describe.c -- what an index entry says of one raw chunk: offset,
 * length, all-zero flag, CRC32 and SHA-256. Shared by every path that
 * turns raw bytes into an image (create, import, capture), so that they
 * agree on each field.
 */
#include <string.h>

#include "image.h"

void
image_zero_memo_init(struct image_zero_memo *m)
{
	memset(m, 0, sizeof(*m));
	pthread_mutex_init(&m->mu, NULL);
}

void
image_zero_memo_destroy(struct image_zero_memo *m)
{
	pthread_mutex_destroy(&m->mu);
}

/* The hash and CRC of raw_len zero bytes (raw holds them), once. */
static void
zero_sums(struct image_zero_memo *m, const uint8_t *raw, uint32_t raw_len,
    struct pimg_entry *ent)
{
	size_t i;

	pthread_mutex_lock(&m->mu);
	for (i = 0; i < m->n && m->z[i].raw_len != raw_len; i++)
		;
	if (i == m->n) {
		hash_buf(raw, raw_len, ent->hash);
		ent->crc32 = pimg_crc32(raw, raw_len);
		if (m->n < IMAGE_ZERO_SIZES) {
			m->z[i].raw_len = raw_len;
			m->z[i].crc = ent->crc32;
			memcpy(m->z[i].hash, ent->hash, HASH_BYTES);
			m->n++;
		}
	} else {
		ent->crc32 = m->z[i].crc;
		memcpy(ent->hash, m->z[i].hash, HASH_BYTES);
	}
	pthread_mutex_unlock(&m->mu);
}

void
image_chunk_describe(struct image_zero_memo *m, const uint8_t *raw,
    uint32_t raw_len, int hole, uint64_t disk_off, struct pimg_entry *ent)
{
	memset(ent, 0, sizeof(*ent));
	ent->disk_off = disk_off;
	ent->raw_len = raw_len;
	if (hole || pimg_is_zero(raw, raw_len)) {
		ent->flags |= PIMG_F_ZERO;
		zero_sums(m, raw, raw_len, ent);
		return;
	}
	hash_buf(raw, raw_len, ent->hash);
	ent->crc32 = pimg_crc32(raw, raw_len);
}
