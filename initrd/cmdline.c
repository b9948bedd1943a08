/*
 * cmdline.c -- pipol.server= and pipol.token= from the kernel command
 * line. Every value is checked here, before anything is sent anywhere:
 * the token is 256 bits in hex, the server an http(s) URL without
 * spaces, quotes or control characters. Other pipol.* words (the
 * kexec path, kexec.c) are read with cmdline_value.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmdline.h"

#define CMDLINE_MAX 4096	/* the kernel's own limit on x86 is 2048 */

/* opt names the value: "pipol.server" (then "=") or "--server" (" "). */
int
agent_url_check(const char *opt, const char *v, struct perr *e)
{
	const char *host, *sep = opt[0] == '-' ? " " : "=";
	size_t i;

	if (strncmp(v, "http://", 7) == 0)
		host = v + 7;
	else if (strncmp(v, "https://", 8) == 0)
		host = v + 8;
	else
		return perr_set(e, PE_USAGE, "%s%s%.80s: not an http:// or "
		    "https:// URL", opt, sep, v);
	if (*host == '\0' || *host == '/' || *host == ':')
		return perr_set(e, PE_USAGE, "%s%s%.80s: no host", opt, sep, v);
	for (i = 0; v[i] != '\0'; i++)
		if (!isgraph((unsigned char)v[i]) || v[i] == '"' ||
		    v[i] == '\'' || v[i] == '\\')
			return perr_set(e, PE_USAGE, "%s: bad character at "
			    "position %zu", opt, i);
	return 0;
}

int
agent_token_check(const char *what, const char *v, struct perr *e)
{
	size_t i, n = strlen(v);

	/* never echo a token: it may be a real one with a typo */
	if (n != 64)
		return perr_set(e, PE_USAGE, "%s: %zu characters, expected 64 "
		    "hex digits", what, n);
	for (i = 0; i < n; i++)
		if (!isxdigit((unsigned char)v[i]) ||
		    isupper((unsigned char)v[i]))
			return perr_set(e, PE_USAGE, "%s: not 64 lower-case hex "
			    "digits", what);
	return 0;
}

static int
take(char *dst, size_t cap, const char *word, size_t skip, const char *name,
    struct perr *e)
{
	if (strlen(word + skip) >= cap)
		return perr_set(e, PE_USAGE, "%s: too long", name);
	snprintf(dst, cap, "%s", word + skip);
	return 0;
}

/*
 * The whole of path into buf (CMDLINE_MAX + 1 bytes), NUL-terminated.
 * Read to the end, not to the size fstat gives: /proc/cmdline says 0.
 */
static int
slurp(const char *path, char *buf, struct perr *e)
{
	size_t len = 0;
	ssize_t n;
	int fd, rc = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return perr_errno(e, errno == ENOENT ? PE_NOTFOUND : PE_FAIL,
		    "%s", path);
	while (len <= CMDLINE_MAX) {
		n = read(fd, buf + len, CMDLINE_MAX + 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			rc = perr_errno(e, PE_FAIL, "%s: read", path);
			break;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (rc == 0 && len > CMDLINE_MAX)
		rc = perr_set(e, PE_DATA, "%s: more than %d bytes", path,
		    CMDLINE_MAX);
	buf[len > CMDLINE_MAX ? CMDLINE_MAX : len] = '\0';
	return rc;
}

int
cmdline_read(const char *path, struct agent_cmdline *c, struct perr *e)
{
	char *buf, *w, *save;
	int rc;

	memset(c, 0, sizeof(*c));
	if ((buf = malloc(CMDLINE_MAX + 1)) == NULL)
		return perr_set(e, PE_FAIL, "%s: out of memory", path);
	if ((rc = slurp(path, buf, e)) < 0) {
		free(buf);
		return rc;
	}
	for (w = strtok_r(buf, " \t\n", &save); w != NULL && rc == 0;
	    w = strtok_r(NULL, " \t\n", &save)) {
		if (strncmp(w, "pipol.server=", 13) == 0)
			rc = take(c->server, sizeof(c->server), w, 13,
			    "pipol.server", e);
		else if (strncmp(w, "pipol.token=", 12) == 0)
			rc = take(c->token, sizeof(c->token), w, 12,
			    "pipol.token", e);
	}
	free(buf);
	if (rc < 0)
		return rc;
	if (c->server[0] == '\0')
		return perr_set(e, PE_USAGE, "%s: no pipol.server=", path);
	if (c->token[0] == '\0')
		return perr_set(e, PE_USAGE, "%s: no pipol.token=", path);
	if ((rc = agent_url_check("pipol.server", c->server, e)) < 0)
		return rc;
	return agent_token_check("pipol.token", c->token, e);
}

int
cmdline_value(const char *path, const char *key, char *out, size_t len,
    struct perr *e)
{
	char *buf, *w, *save;
	size_t k = strlen(key);
	int rc, found = 0;

	*out = '\0';
	if ((buf = malloc(CMDLINE_MAX + 1)) == NULL)
		return perr_set(e, PE_FAIL, "%s: out of memory", path);
	if ((rc = slurp(path, buf, e)) < 0) {
		free(buf);
		return rc;
	}
	/* the last one wins, as with the kernel's own parameters */
	for (w = strtok_r(buf, " \t\n", &save); w != NULL && rc == 0;
	    w = strtok_r(NULL, " \t\n", &save))
		if (strncmp(w, key, k) == 0 && w[k] == '=') {
			rc = take(out, len, w, k + 1, key, e);
			found = 1;
		}
	free(buf);
	return rc < 0 ? rc : found;
}
