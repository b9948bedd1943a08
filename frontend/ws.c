/*
 * ws.c -- WebSocket framing for the web console (ws.h): the handshake's
 * key, server frames' headers, a client's frames read as they come.
 */
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "ws.h"

#define WS_GUID	"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"	/* RFC 6455 1.3 */

int
ws_key_ok(const char *key)
{
	size_t i;

	if (key == NULL || strlen(key) != WS_KEY_LEN ||
	    strcmp(key + WS_KEY_LEN - 2, "==") != 0)
		return 0;
	for (i = 0; i < WS_KEY_LEN - 2; i++)
		if (!isalnum((unsigned char)key[i]) && key[i] != '+' &&
		    key[i] != '/')
			return 0;
	return 1;
}

void
ws_accept(const char *key, char out[WS_ACCEPT_LEN + 1])
{
	char buf[WS_KEY_LEN + sizeof(WS_GUID)];
	uint8_t h[SHA_DIGEST_LENGTH];

	/* SHA-1 is the protocol's, not a choice: this proves only that
	 * the server read the handshake */
	snprintf(buf, sizeof(buf), "%.*s%s", WS_KEY_LEN, key, WS_GUID);
	SHA1((const uint8_t *)buf, strlen(buf), h);
	EVP_EncodeBlock((uint8_t *)out, h, sizeof(h));
	out[WS_ACCEPT_LEN] = '\0';
}

size_t
ws_header(uint8_t out[WS_HEADER_MAX], enum ws_op op, size_t len)
{
	int i;

	out[0] = 0x80 | (uint8_t)op;
	if (len < 126) {
		out[1] = (uint8_t)len;
		return 2;
	}
	if (len <= 0xffff) {
		out[1] = 126;
		out[2] = (uint8_t)(len >> 8);
		out[3] = (uint8_t)len;
		return 4;
	}
	out[1] = 127;
	for (i = 0; i < 8; i++)
		out[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
	return 10;
}

/* The header's length so far known (2, 4, 10 for the length, + 4 for
 * the mask) from its first two bytes. */
static size_t
header_need(const uint8_t *h)
{
	size_t n = 2 + 4;

	if ((h[1] & 0x7f) == 126)
		n += 2;
	else if ((h[1] & 0x7f) == 127)
		n += 8;
	return n;
}

/* A whole header in w->hdr: check it, start the frame; -1 refused. */
static int
frame_start(struct ws_in *w)
{
	const uint8_t *h = w->hdr;
	int fin = h[0] & 0x80, op = h[0] & 0x0f, i;
	uint64_t len = h[1] & 0x7f;
	size_t m = 2;

	if ((h[0] & 0x70) != 0 || (h[1] & 0x80) == 0)
		return -1;	/* reserved bits, or not masked */
	if (len == 126) {
		len = (uint64_t)h[2] << 8 | h[3];
		m = 4;
	} else if (len == 127) {
		if (h[2] & 0x80)
			return -1;
		for (len = 0, i = 0; i < 8; i++)
			len = len << 8 | h[2 + i];
		m = 10;
	}
	switch (op) {
	case WS_OP_CONT:
		if (!w->in_data)
			return -1;
		break;
	case WS_OP_TEXT:
	case WS_OP_BINARY:
		if (w->in_data)
			return -1;
		break;
	case WS_OP_CLOSE:
	case WS_OP_PING:
	case WS_OP_PONG:
		if (!fin || len > WS_CTL_MAX)
			return -1;
		break;
	default:
		return -1;
	}
	if (op < WS_OP_CLOSE)
		w->in_data = !fin;
	memcpy(w->mask, h + m, 4);
	w->mpos = 0;
	w->op = op;
	w->left = len;
	w->ctllen = 0;
	return 0;
}

/* A frame's payload ended: what it means. */
static enum ws_event
frame_end(struct ws_in *w)
{
	w->hlen = 0;
	if (w->op == WS_OP_PING)
		return WS_PING;
	if (w->op == WS_OP_CLOSE)
		return WS_CLOSE;
	return WS_MORE;
}

enum ws_event
ws_read(struct ws_in *w, const uint8_t *in, size_t len, size_t *used,
    uint8_t *data, size_t *dlen)
{
	size_t i = 0, n, k;
	enum ws_event ev;

	*dlen = 0;
	while (i < len) {
		if (w->hlen < 2 || w->hlen < header_need(w->hdr)) {
			w->hdr[w->hlen++] = in[i++];
			if (w->hlen == 2 && (w->hdr[1] & 0x80) == 0) {
				*used = i;	/* a client masks all */
				return WS_ERROR;
			}
			if (w->hlen >= 2 && w->hlen == header_need(w->hdr)) {
				if (frame_start(w) < 0) {
					*used = i;
					return WS_ERROR;
				}
				if (w->left == 0 &&
				    (ev = frame_end(w)) != WS_MORE) {
					*used = i;
					return ev;
				}
			}
			continue;
		}
		n = len - i < w->left ? len - i : (size_t)w->left;
		for (k = 0; k < n; k++) {
			uint8_t b = in[i + k] ^ w->mask[w->mpos++ & 3];

			if (w->op < WS_OP_CLOSE)
				data[(*dlen)++] = b;
			else if (w->op != WS_OP_PONG)
				w->ctl[w->ctllen++] = b;
		}
		i += n;
		w->left -= n;
		if (w->left == 0 && (ev = frame_end(w)) != WS_MORE) {
			*used = i;
			return ev;
		}
	}
	*used = i;
	return WS_MORE;
}
