/*
 * ws_fuzz.c -- libFuzzer target for frontend/ws.c's reader of a client's
 * WebSocket frames (bytes from any browser, or anyone): read whole and
 * read in pieces of every size the input's first byte picks, the two
 * must agree on the keys passed through and the events met, never read
 * past what they are given, never pass more than they read, never keep
 * a control payload longer than 125 bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ws.h"

struct run {
	uint8_t keys[65536 + 16];
	size_t nkeys;
	int events[65536 + 16];
	size_t nev;
};

static void
feed(const uint8_t *in, size_t len, size_t step, struct run *r)
{
	struct ws_in w;
	uint8_t data[65536];
	size_t off = 0, used, dlen, n;
	enum ws_event ev;

	memset(&w, 0, sizeof(w));
	r->nkeys = r->nev = 0;
	while (off < len) {
		n = len - off < step ? len - off : step;
		ev = ws_read(&w, in + off, n, &used, data, &dlen);
		if (used > n || dlen > used || w.ctllen > WS_CTL_MAX)
			abort();
		memcpy(r->keys + r->nkeys, data, dlen);
		r->nkeys += dlen;
		off += used;
		if (ev != WS_MORE)
			r->events[r->nev++] = ev;
		if (ev == WS_ERROR || ev == WS_CLOSE)
			return;	/* the console closes there */
		if (ev == WS_MORE && used != n)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len)
{
	static struct run a, b;

	if (len < 1 || len > 65536)
		return 0;
	feed(buf + 1, len - 1, len, &a);
	feed(buf + 1, len - 1, 1 + buf[0] % 17, &b);
	if (a.nkeys != b.nkeys || memcmp(a.keys, b.keys, a.nkeys) != 0 ||
	    a.nev != b.nev || memcmp(a.events, b.events, a.nev *
	    sizeof(a.events[0])) != 0)
		abort();
	return 0;
}
