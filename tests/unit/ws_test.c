/* ws_test.c -- WebSocket framing (frontend/ws.c): the handshake's
 * accept key (RFC 6455's own example), server headers at each length
 * size, a client's frames read whole, byte by byte, fragmented around a
 * ping, and every malformed frame refused. */
#include <string.h>

#include "harness.h"
#include "ws.h"

/* A client frame: op, fin, payload p[0..n) masked with key; its size */
static size_t
frame(uint8_t *out, int fin, int op, const char *p, size_t n)
{
	static const uint8_t key[4] = { 0x37, 0xfa, 0x21, 0x3d };
	size_t h = 0, i;

	out[h++] = (uint8_t)((fin ? 0x80 : 0) | op);
	if (n < 126)
		out[h++] = (uint8_t)(0x80 | n);
	else {
		out[h++] = 0x80 | 126;
		out[h++] = (uint8_t)(n >> 8);
		out[h++] = (uint8_t)n;
	}
	memcpy(out + h, key, 4);
	h += 4;
	for (i = 0; i < n; i++)
		out[h + i] = (uint8_t)p[i] ^ key[i & 3];
	return h + n;
}

static void
handshake(void)
{
	char acc[WS_ACCEPT_LEN + 1];

	CHECK(ws_key_ok("dGhlIHNhbXBsZSBub25jZQ=="));
	ws_accept("dGhlIHNhbXBsZSBub25jZQ==", acc);
	CHECK(strcmp(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0);
	CHECK(!ws_key_ok(NULL));
	CHECK(!ws_key_ok("dGhlIHNhbXBsZSBub25jZQ="));
	CHECK(!ws_key_ok("dGhlIHNhbXBsZSBub25jZQ=x"));
	CHECK(!ws_key_ok("dGhlIHNhbXBs\"SBub25jZQ=="));
	CHECK(!ws_key_ok("dGhlIHNhbXBsZSBub25jZQ==dGhl"));
}

static void
headers(void)
{
	uint8_t h[WS_HEADER_MAX];

	CHECK(ws_header(h, WS_OP_BINARY, 0) == 2 && h[0] == 0x82 && h[1] == 0);
	CHECK(ws_header(h, WS_OP_BINARY, 125) == 2 && h[1] == 125);
	CHECK(ws_header(h, WS_OP_CLOSE, 126) == 4 && h[0] == 0x88 &&
	    h[1] == 126 && h[2] == 0 && h[3] == 126);
	CHECK(ws_header(h, WS_OP_BINARY, 65535) == 4 && h[2] == 0xff &&
	    h[3] == 0xff);
	CHECK(ws_header(h, WS_OP_BINARY, 65536) == 10 && h[1] == 127 &&
	    h[7] == 1 && h[8] == 0 && h[9] == 0);
}

static void
reads_whole_and_bytewise(void)
{
	/* RFC 6455 5.7: a masked "Hello" */
	static const uint8_t hello[] = { 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
	    0x7f, 0x9f, 0x4d, 0x51, 0x58 };
	struct ws_in w;
	uint8_t data[400], in[400], big[300];
	size_t used, dlen, got = 0, i, n;

	memset(&w, 0, sizeof(w));
	CHECK(ws_read(&w, hello, sizeof(hello), &used, data, &dlen) == WS_MORE);
	CHECK(used == sizeof(hello) && dlen == 5 && memcmp(data, "Hello", 5) == 0);
	memset(&w, 0, sizeof(w));
	for (i = 0; i < sizeof(hello); i++) {
		CHECK(ws_read(&w, hello + i, 1, &used, data + got, &dlen) == WS_MORE);
		got += dlen;
	}
	CHECK(got == 5 && memcmp(data, "Hello", 5) == 0);
	/* a 16-bit length */
	memset(big, 'k', sizeof(big));
	n = frame(in, 1, WS_OP_BINARY, (const char *)big, sizeof(big));
	memset(&w, 0, sizeof(w));
	CHECK(ws_read(&w, in, n, &used, data, &dlen) == WS_MORE);
	CHECK(used == n && dlen == sizeof(big) && memcmp(data, big, dlen) == 0);
}

static void
fragments_around_a_ping(void)
{
	uint8_t in[200], data[200];
	size_t n = 0, used, dlen, off = 0;
	struct ws_in w;

	n += frame(in + n, 0, WS_OP_TEXT, "Hel", 3);
	n += frame(in + n, 1, WS_OP_PING, "pi", 2);
	n += frame(in + n, 1, WS_OP_CONT, "lo", 2);
	n += frame(in + n, 1, WS_OP_PONG, "x", 1);
	n += frame(in + n, 1, WS_OP_CLOSE, "\x03\xe8", 2);
	memset(&w, 0, sizeof(w));
	CHECK(ws_read(&w, in, n, &used, data, &dlen) == WS_PING);
	CHECK(dlen == 3 && memcmp(data, "Hel", 3) == 0);
	CHECK(w.ctllen == 2 && memcmp(w.ctl, "pi", 2) == 0);
	off += used;
	CHECK(ws_read(&w, in + off, n - off, &used, data, &dlen) == WS_CLOSE);
	CHECK(dlen == 2 && memcmp(data, "lo", 2) == 0);	/* the pong: dropped */
	CHECK(w.ctllen == 2 && w.ctl[0] == 3 && w.ctl[1] == 0xe8);
	CHECK(off + used == n);
}

/* bad: a frame ws_read must refuse, alone or after a good one */
static int
refused(const uint8_t *in, size_t n)
{
	struct ws_in w;
	uint8_t data[300];
	size_t used, dlen;

	memset(&w, 0, sizeof(w));
	return ws_read(&w, in, n, &used, data, &dlen) == WS_ERROR;
}

static void
refusals(void)
{
	static const uint8_t unmasked[] = { 0x81, 0x01, 'a' };
	static const uint8_t rsv[] = { 0xc1, 0x81, 0, 0, 0, 0, 'a' };
	static const uint8_t op3[] = { 0x83, 0x81, 0, 0, 0, 0, 'a' };
	static const uint8_t huge[] = { 0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0,
	    0, 0, 0, 0, 0 };
	uint8_t in[400];
	char p[130];
	size_t n;

	memset(p, 'p', sizeof(p));
	CHECK(refused(unmasked, sizeof(unmasked)));
	CHECK(refused(rsv, sizeof(rsv)));
	CHECK(refused(op3, sizeof(op3)));
	CHECK(refused(huge, sizeof(huge)));
	n = frame(in, 1, WS_OP_CONT, "a", 1);
	CHECK(refused(in, n));				/* a continuation of nothing */
	n = frame(in, 0, WS_OP_PING, "a", 1);
	CHECK(refused(in, n));				/* a fragmented control */
	n = frame(in, 1, WS_OP_PING, p, 126);
	CHECK(refused(in, n));				/* a long control */
	n = frame(in, 0, WS_OP_TEXT, "a", 1);
	n += frame(in + n, 1, WS_OP_BINARY, "b", 1);
	CHECK(refused(in, n));				/* a message in a message */
	n = frame(in, 1, WS_OP_PING, p, 125);
	CHECK(!refused(in, n));				/* 125: the longest control */
}

int
main(void)
{
	RUN(handshake);
	RUN(headers);
	RUN(reads_whole_and_bytewise);
	RUN(fragments_around_a_ping);
	RUN(refusals);
	DONE();
}
