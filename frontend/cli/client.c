/*
 * client.c -- the command line's HTTP client to pipold: where (--server,
 * $PIPOL_SERVER, or "server URL" in ~/.config/pipol/config), who
 * ($PIPOL_TOKEN or "token HEX" there), timeouts, and the mapping from an
 * HTTP status to the exit statuses scripts rely on. The token goes in a
 * header, never on a command line.
 */
#include <curl/curl.h>
#include <poll.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic.h"
#include "cli.h"
#include "log.h"
#include "perr.h"

#define CLIENT_TIMEOUT_SEC	30
#define CLIENT_BODY_MAX		(16u << 20)

struct body {
	char *p;
	size_t len;
};

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	struct body *b = arg;
	size_t len = size * n;
	char *np;

	if (b->len + len > CLIENT_BODY_MAX ||
	    (np = realloc(b->p, b->len + len + 1)) == NULL)
		return 0;
	memcpy(np + b->len, p, len);
	b->p = np;
	b->len += len;
	b->p[b->len] = '\0';
	return len;
}

/* "key value" from the config file; *out malloc'd, NULL when absent. */
static void
config_get(const char *key, char **out)
{
	char path[1024], *text, *line, *save;
	const char *home = getenv("HOME");
	size_t kl = strlen(key);

	*out = NULL;
	if (home == NULL)
		return;
	snprintf(path, sizeof(path), "%s/.config/pipol/config", home);
	if (read_file(path, 65536, &text, NULL, NULL) < 0)
		return;
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save))
		if (strncmp(line, key, kl) == 0 && line[kl] == ' ')
			*out = strdup(line + kl + 1);
	free(text);
}

int
client_has_server(void)
{
	char *server;
	int has;

	if (getenv("PIPOL_SERVER") != NULL)
		return 1;
	config_get("server", &server);
	has = server != NULL;
	free(server);
	return has;
}

char *
client_server(void)
{
	char *server = NULL;

	if (getenv("PIPOL_SERVER") != NULL)
		return strdup(getenv("PIPOL_SERVER"));
	config_get("server", &server);
	return server;
}

/* Where and who: the server and the token (malloc'd, NULL when none). */
static void
client_who(char **server, char **token)
{
	if (getenv("PIPOL_SERVER"))
		*server = strdup(getenv("PIPOL_SERVER"));
	else
		config_get("server", server);
	if (getenv("PIPOL_TOKEN"))
		*token = strdup(getenv("PIPOL_TOKEN"));
	else
		config_get("token", token);
}

static int
status_code(long http)
{
	switch (http) {
	case 400: case 413: return PE_USAGE;
	case 401: case 403: return PE_DENIED;
	case 404: return PE_NOTFOUND;
	case 409: return PE_CONFLICT;
	case 422: return PE_DATA;
	case 503: return PE_UNAVAIL;
	}
	return PE_FAIL;
}

/* One request: where (PIPOL_SERVER or the config), who (the token, wiped
 * when done), and a handle with what every request sets. */
struct client_req {
	char *server, *token, url[2048];
	struct curl_slist *hdr;
	CURL *h;
};

static int
req_open(struct client_req *q, const char *method, const char *path,
    const char *ctype, long timeout_sec, struct perr *e)
{
	char line[128];

	memset(q, 0, sizeof(*q));
	client_who(&q->server, &q->token);
	if (q->server == NULL)
		return perr_set(e, PE_USAGE, "no server: set PIPOL_SERVER or "
		    "\"server URL\" in ~/.config/pipol/config");
	if ((q->h = curl_easy_init()) == NULL)
		return perr_set(e, PE_FAIL, "out of memory");
	snprintf(q->url, sizeof(q->url), "%s%s", q->server, path);
	if (q->token != NULL) {
		snprintf(line, sizeof(line), "Authorization: Bearer %.64s",
		    q->token);
		q->hdr = curl_slist_append(q->hdr, line);
	}
	if (ctype != NULL) {
		snprintf(line, sizeof(line), "Content-Type: %s", ctype);
		q->hdr = curl_slist_append(q->hdr, line);
	}
	curl_easy_setopt(q->h, CURLOPT_URL, q->url);
	curl_easy_setopt(q->h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(q->h, CURLOPT_HTTPHEADER, q->hdr);
	curl_easy_setopt(q->h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(q->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(q->h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(q->h, CURLOPT_TIMEOUT, timeout_sec);
	return 0;
}

static void
req_close(struct client_req *q)
{
	if (q->h != NULL)
		curl_easy_cleanup(q->h);
	curl_slist_free_all(q->hdr);
	free(q->server);
	if (q->token != NULL) {
		memset(q->token, 0, strlen(q->token));
		free(q->token);
	}
}

/* An answer of 400 or more: its "error", with the exit status it maps to */
static int
answer_error(const struct client_req *q, long http, json_t *o,
    struct perr *e)
{
	json_t *m = json_object_get(o, "error");

	return perr_set(e, status_code(http), "%s: %s", q->server,
	    json_is_string(m) ? json_string_value(m) : "HTTP error");
}

int
client_call(const char *method, const char *path, json_t *send,
    json_t **reply, struct perr *e)
{
	struct body b = { NULL, 0 };
	struct client_req q;
	char *payload = NULL;
	json_error_t je;
	long http = 0;
	CURLcode res;
	int rc;

	*reply = NULL;
	if ((rc = req_open(&q, method, path, send != NULL ?
	    "application/json" : NULL, (long)CLIENT_TIMEOUT_SEC, e)) < 0)
		goto out;
	if (send != NULL) {
		payload = json_dumps(send, JSON_COMPACT);
		curl_easy_setopt(q.h, CURLOPT_POSTFIELDS, payload);
	}
	curl_easy_setopt(q.h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(q.h, CURLOPT_WRITEDATA, &b);
	res = curl_easy_perform(q.h);
	curl_easy_getinfo(q.h, CURLINFO_RESPONSE_CODE, &http);
	if (res != CURLE_OK) {
		rc = perr_set(e, PE_UNAVAIL, "%s: %s", q.server,
		    curl_easy_strerror(res));
		goto out;
	}
	*reply = b.p ? json_loads(b.p, 0, &je) : NULL;
	if (http >= 400) {
		rc = answer_error(&q, http, *reply, e);
		json_decref(*reply);
		*reply = NULL;
	} else if (*reply == NULL) {
		rc = perr_set(e, PE_DATA, "%s: not a JSON answer", q.server);
	}
 out:
	req_close(&q);
	free(b.p);
	free(payload);
	return rc;
}

int
cli_fail(const struct perr *e)
{
	log_warnx("%s", e->msg);
	return e->code ? e->code : PE_FAIL;
}

const char *
cli_str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

long long
cli_int(json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

/* sub (job_cmd.c): bytes to pipold or from it */
static size_t
on_file(char *p, size_t size, size_t n, void *arg)
{
	return fwrite(p, size, n, arg) * size;
}

int
client_raw(const char *method, const char *path, const void *buf,
    size_t len, FILE *out, struct perr *e)
{
	struct body b = { NULL, 0 };
	struct client_req q;
	long http = 0;
	CURLcode res;
	int rc;

	if ((rc = req_open(&q, method, path, buf != NULL ?
	    "application/octet-stream" : NULL, 600L, e)) < 0)
		goto out;
	if (buf != NULL) {
		curl_easy_setopt(q.h, CURLOPT_POSTFIELDS, buf);
		curl_easy_setopt(q.h, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)len);
	}
	if (out != NULL) {
		curl_easy_setopt(q.h, CURLOPT_WRITEFUNCTION, on_file);
		curl_easy_setopt(q.h, CURLOPT_WRITEDATA, out);
	} else {
		curl_easy_setopt(q.h, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(q.h, CURLOPT_WRITEDATA, &b);
	}
	/* an error's answer is never written to out */
	curl_easy_setopt(q.h, CURLOPT_FAILONERROR, out != NULL ? 1L : 0L);
	res = curl_easy_perform(q.h);
	curl_easy_getinfo(q.h, CURLINFO_RESPONSE_CODE, &http);
	if (res != CURLE_OK && http < 400)
		rc = perr_set(e, PE_UNAVAIL, "%s: %s", q.server,
		    curl_easy_strerror(res));
	else if (http >= 400) {
		json_t *o = b.p ? json_loads(b.p, 0, NULL) : NULL;

		rc = answer_error(&q, http, o, e);
		json_decref(o);
	}
 out:
	req_close(&q);
	free(b.p);
	return rc;
}

/* console: an upgraded connection (GET path, "Upgrade: protocol") */
#define CLIENT_ERRBODY_MAX	4096	/* a refusal's JSON body */

/* Wait until h's socket is ready for events (POLLIN or POLLOUT), at
 * most ms; 0, or -1. */
static int
upgrade_wait(CURL *h, short events, int ms)
{
	curl_socket_t s = CURL_SOCKET_BAD;
	struct pollfd p;

	if (curl_easy_getinfo(h, CURLINFO_ACTIVESOCKET, &s) != CURLE_OK ||
	    s == CURL_SOCKET_BAD)
		return -1;
	p = (struct pollfd){ .fd = s, .events = events };
	return poll(&p, 1, ms) > 0 ? 0 : -1;
}

int
client_send_all(CURL *h, const void *buf, size_t len)
{
	const char *p = buf;
	size_t n;
	CURLcode res;

	while (len > 0) {
		res = curl_easy_send(h, p, len, &n);
		if (res == CURLE_AGAIN) {
			if (upgrade_wait(h, POLLOUT, CLIENT_TIMEOUT_SEC * 1000)
			    < 0)
				return -1;
			continue;
		}
		if (res != CURLE_OK)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

/* The head of the answer (up to the blank line) into head; what came
 * after it is left at head + *hlen .. head + *got. */
static int
upgrade_head(CURL *h, char *head, size_t *hlen, size_t *got)
{
	char *end;
	size_t n;
	CURLcode res;

	*got = 0;
	for (;;) {
		res = curl_easy_recv(h, head + *got, CLIENT_HEAD_MAX - 1 - *got,
		    &n);
		if (res == CURLE_AGAIN) {
			if (upgrade_wait(h, POLLIN, CLIENT_TIMEOUT_SEC * 1000)
			    < 0)
				return -1;
			continue;
		}
		if (res != CURLE_OK || n == 0)
			return -1;
		*got += n;
		head[*got] = '\0';
		if ((end = strstr(head, "\r\n\r\n")) != NULL) {
			*hlen = (size_t)(end + 4 - head);
			return 0;
		}
		if (*got >= CLIENT_HEAD_MAX - 1)
			return -1;
	}
}

/* A refusal: its JSON body's "error" (Content-Length bytes). */
static int
upgrade_refused(CURL *h, const char *server, long http, char *head,
    size_t hlen, size_t got, struct perr *e)
{
	char body[CLIENT_ERRBODY_MAX + 1];
	const char *cl = strcasestr(head, "\r\nContent-Length:");
	size_t want = cl ? strtoul(cl + 17, NULL, 10) : 0, have, n;
	json_t *o, *m;
	int rc;

	if (want > CLIENT_ERRBODY_MAX)
		want = CLIENT_ERRBODY_MAX;
	have = got - hlen < want ? got - hlen : want;
	memcpy(body, head + hlen, have);
	while (have < want) {
		CURLcode res = curl_easy_recv(h, body + have, want - have, &n);

		if (res == CURLE_AGAIN && upgrade_wait(h, POLLIN, 5000) == 0)
			continue;
		if (res != CURLE_OK || n == 0)
			break;
		have += n;
	}
	body[have] = '\0';
	o = json_loads(body, 0, NULL);
	m = json_object_get(o, "error");
	rc = perr_set(e, status_code(http), "%s: %s", server,
	    json_is_string(m) ? json_string_value(m) : "HTTP error");
	json_decref(o);
	return rc;
}

int
client_upgrade(const char *path, const char *protocol, CURL **out,
    char *early, size_t *early_len, struct perr *e)
{
	char *server = NULL, *token = NULL, req[4096], head[CLIENT_HEAD_MAX];
	const char *host, *slash;
	size_t hlen = 0, got = 0;
	long http = 0;
	CURL *h = NULL;
	int rc = 0, n;

	*out = NULL;
	*early_len = 0;
	client_who(&server, &token);
	if (server == NULL || (host = strstr(server, "://")) == NULL) {
		rc = perr_set(e, PE_USAGE, "no server: set PIPOL_SERVER or "
		    "\"server URL\" in ~/.config/pipol/config");
		goto out;
	}
	host += 3;
	slash = host + strcspn(host, "/");
	n = snprintf(req, sizeof(req), "GET %s%s HTTP/1.1\r\nHost: %.*s\r\n"
	    "Connection: Upgrade\r\nUpgrade: %s\r\n%s%.64s%s\r\n",
	    *slash ? slash : "", path, (int)(slash - host), host, protocol,
	    token ? "Authorization: Bearer " : "", token ? token : "",
	    token ? "\r\n" : "");
	if (n < 0 || (size_t)n >= sizeof(req) || (h = curl_easy_init()) ==
	    NULL) {
		rc = perr_set(e, PE_USAGE, "%s: URL too long", server);
		goto out;
	}
	curl_easy_setopt(h, CURLOPT_URL, server);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_CONNECT_ONLY, 1L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	if (curl_easy_perform(h) != CURLE_OK ||
	    client_send_all(h, req, (size_t)n) < 0 ||
	    upgrade_head(h, head, &hlen, &got) < 0 ||
	    sscanf(head, "HTTP/1.%*d %ld", &http) != 1) {
		rc = perr_set(e, PE_UNAVAIL, "%s: no answer", server);
		goto out;
	}
	if (http != 101) {
		rc = upgrade_refused(h, server, http, head, hlen, got, e);
		goto out;
	}
	memcpy(early, head + hlen, got - hlen);
	*early_len = got - hlen;
	*out = h;
	h = NULL;
 out:
	explicit_bzero(req, sizeof(req));
	if (h != NULL)
		curl_easy_cleanup(h);
	free(server);
	if (token != NULL) {
		explicit_bzero(token, strlen(token));
		free(token);
	}
	return rc;
}
