/*
 * create.c -- a disk or file -> a new draft: source.c reads it chunk by
 * chunk (holes never read), ingest.c describes, compresses and stores.
 */
#include "ingest.h"
#include "perr.h"

int
image_create(struct store *s, const char *name, const char *path,
    const struct image_opts *o, unsigned *version, struct image_stats *st,
    struct perr *e)
{
	struct image_source src;
	struct ingest *in = NULL;
	struct ingest_job *j;
	uint64_t off;
	uint32_t cs = o->chunk_size ? o->chunk_size : PIMG_CHUNK_DEFAULT, len;
	int rc;

	if ((rc = image_source_open(path, &src, e)) < 0)
		return rc;
	if ((rc = ingest_begin(s, o, path, &in, e)) < 0)
		goto out;
	in->prog.total = src.size;
	for (off = 0; off < src.size; off += len) {
		len = src.size - off < cs ? (uint32_t)(src.size - off) : cs;
		if ((j = ingest_next(in)) == NULL)
			break;
		if ((rc = image_source_read(&src, j->raw, off, len, &j->hole,
		    e)) < 0) {
			queue_push(&in->freeq, j);
			goto out;
		}
		if ((rc = ingest_submit(in, j, len, e)) < 0 && !in->failed)
			goto out;
	}
	rc = ingest_finish(in, name, o->meta, NULL, version, st, e);
	if (rc == 0 && st != NULL)
		st->read_bytes = src.nread;
 out:
	ingest_abort(in);
	image_source_close(&src);
	return rc;
}
