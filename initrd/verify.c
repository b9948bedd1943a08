/*
 * verify.c -- --verify: after the run, drop the target's page cache,
 * read every chunk back on every worker, hash it, and compare the disk
 * hash with the index's; a mismatch names the first chunk that differs.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "deploy.h"

/* --verify: read the target back from the device and check the disk
 * hash, chunk by chunk on every worker. */
struct vjob {
	struct deploy *d;
	struct pimg_entry *got;
	uint32_t next;
	pthread_mutex_t mu;
	int rc;
	struct perr e;
};

static void *
verify_main(void *arg)
{
	struct vjob *v = arg;
	uint8_t *raw = malloc(v->d->ix->chunk_size);
	struct perr e;
	uint32_t ix;

	for (;;) {
		pthread_mutex_lock(&v->mu);
		ix = v->next++;
		pthread_mutex_unlock(&v->mu);
		if (ix >= v->d->ix->nchunks || raw == NULL)
			break;
		if (disk_read(v->d, ix, raw, &e) < 0) {
			pthread_mutex_lock(&v->mu);
			v->rc = -e.code;
			v->e = e;
			pthread_mutex_unlock(&v->mu);
			break;
		}
		hash_buf(raw, v->d->ix->e[ix].raw_len, v->got[ix].hash);
	}
	free(raw);
	return NULL;
}

int
verify_run(struct deploy *d, struct perr *e)
{
	struct pimg_index copy = *d->ix;
	struct vjob v = { .d = d, .mu = PTHREAD_MUTEX_INITIALIZER };
	pthread_t th[AGENT_THREADS_MAX];
	uint8_t h[HASH_BYTES];
	uint32_t i;
	int k, n = 0;

	/* what the device holds, not what the page cache remembers */
	posix_fadvise(d->fd, 0, 0, POSIX_FADV_DONTNEED);
	v.got = calloc(d->ix->nchunks, sizeof(*v.got));
	if (v.got == NULL)
		return perr_set(e, PE_FAIL, "out of memory");
	for (k = 0; k < d->threads; k++)
		n += pthread_create(&th[n], NULL, verify_main, &v) == 0;
	for (k = 0; k < n; k++)
		pthread_join(th[k], NULL);
	copy.e = v.got;
	pimg_disk_hash(&copy, h);
	if (v.rc < 0) {
		*e = v.e;
	} else if (memcmp(h, d->ix->disk_hash, HASH_BYTES) != 0) {
		for (i = 0; i < d->ix->nchunks; i++)
			if (memcmp(v.got[i].hash, d->ix->e[i].hash, HASH_BYTES))
				break;
		v.rc = perr_set(e, PE_DATA, "%s: --verify: chunk %u (offset "
		    "%llu) does not read back as written", d->target, i,
		    (unsigned long long)(uint64_t)i * d->ix->chunk_size);
	}
	free(v.got);
	return v.rc;
}
