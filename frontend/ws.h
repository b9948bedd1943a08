/*
 * ws.h -- the little of WebSocket (RFC 6455) the web console needs
 * (ws.c): the handshake's accept key, a server frame's header, and an
 * incremental reader of a client's frames that hands the payload of
 * data frames through as it comes (a console streams keys; nothing is
 * gathered but a control frame's 125 bytes). Pure: no socket, no
 * allocation; the caller (console.c) owns the bytes.
 */
#ifndef WS_H
#define WS_H

#include <stddef.h>
#include <stdint.h>

#define WS_KEY_LEN	24	/* Sec-WebSocket-Key: base64 of 16 bytes */
#define WS_ACCEPT_LEN	28	/* Sec-WebSocket-Accept: base64 of SHA-1 */
#define WS_HEADER_MAX	10	/* a server frame's header, at most */
#define WS_CTL_MAX	125	/* a control frame's payload, at most */

enum ws_op {
	WS_OP_CONT = 0x0, WS_OP_TEXT = 0x1, WS_OP_BINARY = 0x2,
	WS_OP_CLOSE = 0x8, WS_OP_PING = 0x9, WS_OP_PONG = 0xa,
};

/* Is key a well-formed Sec-WebSocket-Key (24 base64 characters ending
 * in "==")? */
int ws_key_ok(const char *key);

/* The Sec-WebSocket-Accept of key (a ws_key_ok one), NUL-terminated. */
void ws_accept(const char *key, char out[WS_ACCEPT_LEN + 1]);

/* A final, unmasked frame's header for op and a payload of len bytes,
 * written to out; its length. */
size_t ws_header(uint8_t out[WS_HEADER_MAX], enum ws_op op, size_t len);

/* What a client sent, frame by frame. Zero it to start. */
struct ws_in {
	uint8_t hdr[14];	/* the header so far */
	size_t hlen;
	uint64_t left;		/* payload bytes of this frame to come */
	uint8_t mask[4];
	unsigned mpos;
	int op;			/* this frame's opcode */
	int in_data;		/* a data message not finished (fragments) */
	uint8_t ctl[WS_CTL_MAX];	/* a control frame's payload */
	size_t ctllen;
};

enum ws_event {
	WS_MORE,	/* all of in used: read more */
	WS_PING,	/* a ping ended: answer a pong with ctl[0..ctllen) */
	WS_CLOSE,	/* a close came (ctl: its code and reason) */
	WS_ERROR,	/* not WebSocket as a client speaks it: close, 1002 */
};

/*
 * Reads in[0..len): the payload of data frames (text, binary and their
 * continuations), unmasked, goes to data (as long as in; *dlen its
 * length); pongs are dropped. Stops after a ping or a close frame, or at
 * an error; *used is what it read. Refused (WS_ERROR): an unmasked
 * frame, reserved bits, an unknown opcode, a fragmented or long control
 * frame, a continuation of nothing, a new message inside another, a
 * 64-bit length with its top bit set.
 */
enum ws_event ws_read(struct ws_in *w, const uint8_t *in, size_t len,
    size_t *used, uint8_t *data, size_t *dlen);

#endif
