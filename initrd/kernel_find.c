/*
 * kernel_find.c -- which kernel, initrds and command line the deployed
 * system boots by default, read from its mounted root, so that pipold
 * can boot it later over the network alone. Three ways, the first that
 * gives a kernel wins; why one was passed over is logged (log_debug):
 *
 *   GRUB    /boot/grub/grub.cfg (or grub2/): "set default" (a number,
 *           "1>2" into a submenu, an entry's id or title, or the
 *           grubenv's saved_entry), the menu entries counted as GRUB
 *           counts them, the chosen one's "linux" and "initrd" lines
 *   links   /vmlinuz and /initrd.img (Debian's kernel links)
 *   /boot   the highest /boot/vmlinuz-VERSION (strverscmp), with
 *           /boot/initrd.img-VERSION
 *
 * grub.cfg is a script; this is not GRUB. It is read as GRUB's lexer
 * would (quotes, escapes, "$var", "{" and "}"), the top level's "set"s
 * are taken whatever "if" they are under (the last value wins; one with
 * a variable not known here is passed over: "${next_entry}" is a
 * one-time boot), and nothing else is run. In the chosen entry a
 * variable not known makes the entry unusable, except $vt_handoff
 * (Ubuntu's console hand-over), dropped. Every file is opened inside
 * the root (openat2, RESOLVE_IN_ROOT), every size and count bounded
 * (kernel_find.h).
 */
#include <sys/stat.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernel_find.h"
#include "log.h"
#include "mount.h"

#define GRUB_WORDS_MAX	128	/* words in one grub.cfg command */
#define GRUB_CMD_MAX	8192	/* bytes of one command's words */
#define GRUB_VARS_MAX	64	/* variables kept from grub.cfg, grubenv */
#define GRUB_NAME_MAX	32
#define GRUB_VALUE_MAX	256
#define GRUB_BLOCKS_MAX	16	/* "{" inside "{": functions, menus */
#define GRUB_TITLE_MAX	128

static const char *const grub_dirs[] = { "boot/grub", "boot/grub2", NULL };

/* ---- files inside the root ---- */

/*
 * path resolved inside rootfd to a regular file; out gets its path
 * inside the root, every link followed. 0, or -1 with errno (ENOENT,
 * ELOOP; EISDIR or EINVAL when not a regular file).
 */
static int
where_in_root(int rootfd, const char *path, char *out, size_t len)
{
	char at[40], host[PATH_MAX], top[PATH_MAX];
	const char *rel = path;
	struct stat st;
	ssize_t n, m;
	int fd;

	if ((fd = mount_resolve(rootfd, path, 0)) < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		close(fd);
		return -1;
	}
	snprintf(at, sizeof(at), "/proc/self/fd/%d", fd);
	n = readlink(at, host, sizeof(host) - 1);
	close(fd);
	snprintf(at, sizeof(at), "/proc/self/fd/%d", rootfd);
	m = readlink(at, top, sizeof(top) - 1);
	if (n > 0 && m > 0) {
		host[n] = top[m] = '\0';
		if (m == 1)		/* the root is "/" */
			rel = host;
		else if (strncmp(host, top, m) == 0 && host[m] == '/')
			rel = host + m;
	}
	while (rel[0] == '/' && rel[1] == '/')
		rel++;
	if ((size_t)snprintf(out, len, "%s%s", rel[0] == '/' ? "" : "/",
	    rel) >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

static const char *
where_error(int err)
{
	switch (err) {
	case ENOENT:	return "no such file inside the image";
	case ELOOP:	return "a link loop";
	case EISDIR:	return "a folder";
	case EINVAL:	return "not a regular file";
	default:	return strerror(err);
	}
}

/*
 * The whole of path (inside the root), at most KERNEL_FILE_MAX bytes,
 * NUL-terminated, into *buf (the caller frees). 0; -PE_NOTFOUND when
 * there is no such file; -PE_DATA when too large or not a file.
 */
static int
file_read(int rootfd, const char *path, char **buf, size_t *len,
    struct perr *e)
{
	struct stat st;
	char at[40];
	ssize_t n = 0;
	size_t got = 0;
	int pfd, fd;

	if ((pfd = mount_resolve(rootfd, path, 0)) < 0)
		return errno == ENOENT ? -PE_NOTFOUND : perr_set(e, PE_DATA,
		    "/%s: %s", path, where_error(errno));
	/* an image's device node or FIFO is not read, whatever its name */
	if (fstat(pfd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(pfd);
		return perr_set(e, PE_DATA, "/%s: not a regular file", path);
	}
	snprintf(at, sizeof(at), "/proc/self/fd/%d", pfd);
	fd = open(at, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	close(pfd);
	if (fd < 0)
		return perr_errno(e, PE_DATA, "/%s", path);
	if ((*buf = malloc(KERNEL_FILE_MAX + 1)) == NULL) {
		close(fd);
		return perr_set(e, PE_FAIL, "/%s: out of memory", path);
	}
	while (got <= KERNEL_FILE_MAX && (n = read(fd, *buf + got,
	    KERNEL_FILE_MAX + 1 - got)) > 0)
		got += n;
	close(fd);
	if (got > KERNEL_FILE_MAX || n < 0) {
		free(*buf);
		*buf = NULL;
		return got > KERNEL_FILE_MAX ? perr_set(e, PE_DATA, "/%s: "
		    "larger than %u MiB", path, KERNEL_FILE_MAX >> 20) :
		    perr_set(e, PE_DATA, "/%s: not a readable file", path);
	}
	(*buf)[got] = '\0';
	*len = got;
	return 0;
}

/* ---- the command line ---- */

/* A filesystem UUID as blkid prints it: ext4's 36 characters, FAT's 9 */
static int
uuid_is_valid(const char *u)
{
	size_t n = strlen(u);

	return n > 0 && n < KERNEL_UUID_MAX && strspn(u,
	    "0123456789abcdefABCDEF-") == n;
}

/* A word of the line, w (n bytes), put at out's end */
static int
cmdline_put(char *out, size_t len, size_t *used, const char *w, size_t n,
    struct perr *e)
{
	if (*used + 1 + n >= len)
		return perr_set(e, PE_DATA, "a command line longer than %zu "
		    "bytes", len - 1);
	*used += snprintf(out + *used, len - *used, "%s%.*s", *used ? " " :
	    "", (int)n, w);
	return 0;
}

static int
line_has_root(const char *in)
{
	const char *w;

	for (w = in; (w = strstr(w, "root=")) != NULL; w++)
		if (w == in || w[-1] == ' ' || w[-1] == '\t')
			return 1;
	return 0;
}

/*
 * in's words into out, "root=UUID=uuid" in place of the first root=
 * (first when there is none), every other root= dropped; uuid NULL
 * keeps them. Only printable ASCII: the line is served to a node's
 * kernel later.
 */
static int
cmdline_finish(const char *in, const char *uuid, char *out, size_t len,
    struct perr *e)
{
	char root[KERNEL_UUID_MAX + 16];
	const char *p, *w;
	size_t n, used = 0;
	int rooted, is_root, rc = 0;

	snprintf(root, sizeof(root), "root=UUID=%s", uuid ? uuid : "");
	out[0] = '\0';
	rooted = uuid == NULL || line_has_root(in);
	if (!rooted)
		rc = cmdline_put(out, len, &used, root, strlen(root), e);
	rooted = uuid == NULL || !rooted;	/* from here: root= put */
	for (p = in; rc == 0 && *(w = p + strspn(p, " \t")) != '\0';
	    p = w + n) {
		n = strcspn(w, " \t");
		is_root = uuid != NULL && strncmp(w, "root=", 5) == 0;
		if (is_root && rooted)
			continue;	/* a second root=: dropped */
		if (is_root)
			rooted = 1;
		rc = cmdline_put(out, len, &used, is_root ? root : w,
		    is_root ? strlen(root) : n, e);
	}
	if (rc < 0)
		return rc;
	for (p = out; *p != '\0'; p++)
		if (*p < 0x20 || *p > 0x7e)
			return perr_set(e, PE_DATA, "the command line has a "
			    "byte 0x%02x", (unsigned char)*p);
	return 0;
}

/* The UUID= of "/" in the image's /etc/fstab, into uuid; 0 or -1 */
static int
fstab_root_uuid(int rootfd, char uuid[KERNEL_UUID_MAX])
{
	char *buf, *line, *save = NULL, spec[64], dir[16];
	struct perr e;
	size_t len;
	int rc = -1;

	if (file_read(rootfd, "etc/fstab", &buf, &len, &e) < 0)
		return -1;
	for (line = strtok_r(buf, "\n", &save); line != NULL && rc < 0;
	    line = strtok_r(NULL, "\n", &save)) {
		if (sscanf(line, " %63s %15s", spec, dir) != 2 ||
		    spec[0] == '#' || strcmp(dir, "/") != 0 ||
		    strncmp(spec, "UUID=", 5) != 0 ||
		    !uuid_is_valid(spec + 5))
			continue;
		snprintf(uuid, KERNEL_UUID_MAX, "%s", spec + 5);
		rc = 0;
	}
	free(buf);
	return rc;
}

/* links and /boot: /etc/kernel/cmdline, else "root=UUID=... ro" */
static int
cmdline_default(int rootfd, const char *uuid, struct kernel_boot *kb,
    struct perr *e)
{
	char *buf;
	size_t len;
	int rc;

	if ((rc = file_read(rootfd, "etc/kernel/cmdline", &buf, &len, e)) ==
	    -PE_NOTFOUND || (rc == 0 && buf[strspn(buf, " \t\n")] == '\0')) {
		if (rc == 0)
			free(buf);
		return cmdline_finish("ro", uuid, kb->cmdline,
		    sizeof(kb->cmdline), e);
	}
	if (rc < 0)
		return rc;
	buf[strcspn(buf, "\n")] = '\0';
	rc = cmdline_finish(buf, uuid, kb->cmdline, sizeof(kb->cmdline), e);
	free(buf);
	if (rc < 0)
		perr_prefix(e, "/etc/kernel/cmdline");
	return rc;
}

/* ---- grub.cfg: variables ---- */

struct grub_vars {
	int n;
	char name[GRUB_VARS_MAX][GRUB_NAME_MAX];
	char value[GRUB_VARS_MAX][GRUB_VALUE_MAX];
};

static const char *
var_get(const struct grub_vars *v, const char *name)
{
	int i;

	for (i = 0; i < v->n; i++)
		if (strcmp(v->name[i], name) == 0)
			return v->value[i];
	return NULL;
}

static void
var_set(struct grub_vars *v, const char *name, size_t namelen,
    const char *value)
{
	int i;

	if (namelen == 0 || namelen >= GRUB_NAME_MAX)
		return;
	for (i = 0; i < v->n; i++)
		if (strncmp(v->name[i], name, namelen) == 0 &&
		    v->name[i][namelen] == '\0')
			break;
	if (i == GRUB_VARS_MAX)
		return;		/* a generated grub.cfg sets ~10 */
	if (i == v->n)
		v->n++;
	snprintf(v->name[i], GRUB_NAME_MAX, "%.*s", (int)namelen, name);
	snprintf(v->value[i], GRUB_VALUE_MAX, "%s", value);
}

/* grubenv: "name=value" lines, the block padded with '#' */
static void
grubenv_load(int rootfd, const char *dir, struct grub_vars *v)
{
	char path[64], *buf, *line, *save = NULL, *eq;
	struct perr e;
	size_t len;

	snprintf(path, sizeof(path), "%s/grubenv", dir);
	if (file_read(rootfd, path, &buf, &len, &e) < 0)
		return;
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save))
		/* next_entry: a one-time boot, not the default */
		if (line[0] != '#' && (eq = strchr(line, '=')) != NULL &&
		    strncmp(line, "next_entry=", 11) != 0)
			var_set(v, line, eq - line, eq + 1);
	free(buf);
}

/* ---- grub.cfg: the lexer ---- */

struct grub_lex {
	const char *p, *end;
	const struct grub_vars *vars;
	const char *err;	/* why lexing stopped */
};

struct grub_cmd {
	int n;
	char *w[GRUB_WORDS_MAX];
	int unknown[GRUB_WORDS_MAX];	/* the word has a $var not known */
	char unknown_name[GRUB_NAME_MAX];	/* the first of them */
	int open, close;	/* the command ended with "{"; is "}" */
	char buf[GRUB_CMD_MAX];
	size_t used;
};

static int
lex_put(struct grub_lex *lx, struct grub_cmd *c, const char *s, size_t n)
{
	if (c->used + n + 1 >= sizeof(c->buf)) {
		lx->err = "a command longer than 8 KiB";
		return -1;
	}
	memcpy(c->buf + c->used, s, n);
	c->used += n;
	return 0;
}

/* "$name" or "${name}" at lx->p: its value appended; not known: none */
static int
lex_var(struct grub_lex *lx, struct grub_cmd *c)
{
	const char *s = lx->p + 1, *val;
	char name[GRUB_NAME_MAX];
	size_t n;
	int brace = *s == '{';

	s += brace;
	n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789_?");
	if (n == 0 || n >= sizeof(name) || (brace && s[n] != '}'))
		return lex_put(lx, c, lx->p++, 1);	/* a plain '$' */
	snprintf(name, sizeof(name), "%.*s", (int)n, s);
	lx->p = s + n + brace;
	if (strcmp(name, "vt_handoff") == 0)
		return 0;
	if ((val = var_get(lx->vars, name)) != NULL)
		return lex_put(lx, c, val, strlen(val));
	if (!c->unknown[c->n] && c->unknown_name[0] == '\0')
		snprintf(c->unknown_name, sizeof(c->unknown_name), "%s", name);
	c->unknown[c->n] = 1;
	return 0;
}

/* A double-quoted string, lx->p past its opening quote */
static int
lex_dquote(struct grub_lex *lx, struct grub_cmd *c)
{
	while (lx->p < lx->end && *lx->p != '"') {
		if (*lx->p == '$') {
			if (lex_var(lx, c) < 0)
				return -1;
			continue;
		}
		if (*lx->p == '\\' && lx->p + 1 < lx->end &&
		    strchr("$\"\\\n", lx->p[1]) != NULL)
			lx->p++;
		if (lex_put(lx, c, lx->p++, 1) < 0)
			return -1;
	}
	if (lx->p >= lx->end) {
		lx->err = "a quote not closed";
		return -1;
	}
	lx->p++;
	return 0;
}

static int
lex_is_end(const struct grub_lex *lx, const char *p)
{
	return p >= lx->end || strchr(" \t\r\n;", *p) != NULL;
}

/* One word at lx->p into c: 1, 0 when it expanded to nothing, -1 */
static int
lex_word(struct grub_lex *lx, struct grub_cmd *c)
{
	size_t start = c->used;
	const char *q;
	int quoted = 0, rc = 0;

	c->unknown[c->n] = 0;
	while (rc == 0 && !lex_is_end(lx, lx->p)) {
		if (*lx->p == '\'') {
			quoted = 1;
			if ((q = memchr(lx->p + 1, '\'', lx->end - lx->p - 1))
			    == NULL) {
				lx->err = "a quote not closed";
				return -1;
			}
			rc = lex_put(lx, c, lx->p + 1, q - lx->p - 1);
			lx->p = q + 1;
		} else if (*lx->p == '"') {
			quoted = 1;
			lx->p++;
			rc = lex_dquote(lx, c);
		} else if (*lx->p == '$')
			rc = lex_var(lx, c);
		else if (*lx->p == '\\' && lx->p + 1 < lx->end) {
			lx->p += 2;	/* "\x" is x; "\" newline, nothing */
			rc = lex_put(lx, c, lx->p - 1, lx->p[-1] != '\n');
		} else
			rc = lex_put(lx, c, lx->p++, 1);
	}
	if (rc < 0)
		return -1;
	if (!quoted && c->used == start)
		return 0;	/* "$empty": no word at all, as in GRUB */
	c->buf[c->used++] = '\0';
	c->w[c->n++] = c->buf + start;
	return 1;
}

/*
 * The next command into c: 1, 0 at the end, -1 with lx->err. A "{"
 * standing alone ends the command with c->open; a "}" standing alone
 * is a command of its own, c->close.
 */
static int
grub_lex(struct grub_lex *lx, struct grub_cmd *c)
{
	const char *p;

	memset(c, 0, offsetof(struct grub_cmd, buf));
	c->used = 0;
	for (;;) {
		while (lx->p < lx->end && strchr(" \t\r", *lx->p) != NULL)
			lx->p++;
		p = lx->p;
		if (p >= lx->end)
			return c->n > 0;
		if (*p == '\\' && p + 1 < lx->end && p[1] == '\n') {
			lx->p += 2;
			continue;
		}
		if (*p == '#') {
			lx->p = memchr(p, '\n', lx->end - p) ?: lx->end;
			continue;
		}
		if (*p == '\n' || *p == ';') {
			lx->p++;
			if (c->n > 0)
				return 1;
			continue;
		}
		if ((*p == '{' || *p == '}') && lex_is_end(lx, p + 1)) {
			if (*p == '}' && c->n > 0)
				return 1;
			lx->p++;
			c->open = *p == '{';
			c->close = *p == '}';
			return 1;
		}
		if (c->n == GRUB_WORDS_MAX) {
			lx->err = "a command of more than 128 words";
			return -1;
		}
		if (lex_word(lx, c) < 0)
			return -1;
	}
}

/* ---- grub.cfg: the menu ---- */

struct grub_entry {
	int parent;		/* its submenu's entry, -1 at the top */
	int ix;			/* its number in that menu */
	int submenu;
	int nchild;		/* a submenu's entries */
	char title[GRUB_TITLE_MAX];
	char id[GRUB_TITLE_MAX];
	size_t body;		/* its body's offset in grub.cfg */
};

struct grub_menu {
	struct grub_entry e[KERNEL_ENTRIES_MAX];
	int n, ntop;
	char deflt[GRUB_VALUE_MAX];	/* "set default" */
	struct grub_vars vars;
	const char *cfg, *dir;	/* "/boot/grub/grub.cfg", "boot/grub" */
	char cfgpath[64];
};

/* "menuentry TITLE [--class C] [--id ID] ... {": title and id */
static void
menu_title(const struct grub_cmd *c, struct grub_entry *en)
{
	static const char *const valued[] = { "--class", "--users",
	    "--hotkey", "--id", NULL };
	const char *const *v;
	int i;

	for (i = 1; i < c->n; i++) {
		for (v = valued; *v != NULL && strcmp(*v, c->w[i]); v++)
			;
		if (*v != NULL && i + 1 < c->n) {
			if (strcmp(*v, "--id") == 0)
				snprintf(en->id, sizeof(en->id), "%s",
				    c->w[i + 1]);
			i++;
		} else if (strncmp(c->w[i], "--", 2) != 0 &&
		    en->title[0] == '\0')
			snprintf(en->title, sizeof(en->title), "%s", c->w[i]);
	}
}

/* A "menuentry" or "submenu" opened inside the menu parent (-1: top):
 * its entry, or -1 past KERNEL_ENTRIES_MAX (counted all the same) */
static int
menu_add(struct grub_menu *m, const struct grub_cmd *c, int parent,
    size_t body)
{
	struct grub_entry *en;
	int *count = parent < 0 ? &m->ntop : &m->e[parent].nchild;

	if (m->n == KERNEL_ENTRIES_MAX) {
		(*count)++;
		return -1;
	}
	en = &m->e[m->n++];
	memset(en, 0, sizeof(*en));
	en->parent = parent;
	en->ix = (*count)++;
	en->submenu = strcmp(c->w[0], "submenu") == 0;
	en->body = body;
	menu_title(c, en);
	return m->n - 1;
}

/* A top-level "set NAME=VALUE" or "NAME=VALUE"; "default" kept aside */
static void
menu_set(struct grub_menu *m, const struct grub_cmd *c)
{
	const char *a = c->w[0], *eq;
	int known = !c->unknown[0];

	if (strcmp(a, "set") == 0 && c->n == 2) {
		a = c->w[1];
		known = !c->unknown[1];
	} else if (c->n != 1)
		return;
	if ((eq = strchr(a, '=')) == NULL || eq == a)
		return;
	if (!known) {
		log_debug("kernel: %s: \"%.*s\" set with a variable not known "
		    "here: passed over", m->cfg, (int)(eq - a), a);
		return;
	}
	if (eq - a == 19 && strncmp(a, "menuentry_id_option", 19) == 0)
		return;		/* "--id" (GRUB >= 2.00), whatever "if" */
	if (eq - a == 7 && strncmp(a, "default", 7) == 0)
		snprintf(m->deflt, sizeof(m->deflt), "%s", eq + 1);
	else
		var_set(&m->vars, a, eq - a, eq + 1);
}


/* "then linux ...", "else set ...": the keyword is not the command */
static void
cmd_unkeyword(struct grub_cmd *c)
{
	if (c->n > 1 && (strcmp(c->w[0], "then") == 0 ||
	    strcmp(c->w[0], "else") == 0 || strcmp(c->w[0], "do") == 0)) {
		memmove(c->w, c->w + 1, (c->n - 1) * sizeof(c->w[0]));
		memmove(c->unknown, c->unknown + 1,
		    (c->n - 1) * sizeof(c->unknown[0]));
		c->n--;
	}
}

/*
 * A "{" command: a menu entry or submenu is kept when every block
 * around it is a submenu kept; the block stack gets the submenu's
 * entry, or -1 (an entry's body, a function, anything else).
 */
static int
menu_open(struct grub_menu *m, const struct grub_cmd *c, int *stack,
    int depth, size_t body)
{
	int i, ix, menu = c->n > 0 && (strcmp(c->w[0], "menuentry") == 0 ||
	    strcmp(c->w[0], "submenu") == 0);

	for (i = 0; i < depth && stack[i] >= 0; i++)
		;
	if (!menu || i < depth || depth >= KERNEL_MENU_DEPTH)
		return -1;
	if ((ix = menu_add(m, c, depth > 0 ? stack[depth - 1] : -1, body))
	    < 0)
		log_debug("kernel: %s: more than %d menu entries: the others "
		    "passed over", m->cfg, KERNEL_ENTRIES_MAX);
	return ix >= 0 && m->e[ix].submenu ? ix : -1;
}

/* grub.cfg, whole: the top level's variables, the menu's entries */
static int
menu_scan(struct grub_menu *m, struct grub_cmd *c, const char *buf,
    size_t len, struct perr *e)
{
	struct grub_lex lx = { buf, buf + len, &m->vars, NULL };
	int stack[GRUB_BLOCKS_MAX], depth = 0, rc;

	while ((rc = grub_lex(&lx, c)) > 0) {
		if (c->close && depth == 0)
			return perr_set(e, PE_DATA, "%s: a \"}\" with no "
			    "\"{\"", m->cfg);
		if (c->close) {
			depth--;
			continue;
		}
		cmd_unkeyword(c);
		if (c->open && depth == GRUB_BLOCKS_MAX)
			return perr_set(e, PE_DATA, "%s: blocks nested "
			    "deeper than %d", m->cfg, GRUB_BLOCKS_MAX);
		if (c->open) {
			stack[depth] = menu_open(m, c, stack, depth,
			    lx.p - buf);
			depth++;
		} else if (depth == 0)
			menu_set(m, c);
	}
	if (rc < 0)
		return perr_set(e, PE_DATA, "%s: %s", m->cfg, lx.err);
	if (depth > 0)
		return perr_set(e, PE_DATA, "%s: a \"{\" not closed", m->cfg);
	return 0;
}

/* In the menu parent (-1: top), the entry part names (n bytes): its
 * number, else its id, else its title, as GRUB looks; or -1 */
static int
menu_find(const struct grub_menu *m, int parent, const char *part, size_t n)
{
	int i, ix = -1;

	if (n > 0 && n < 6 && strspn(part, "0123456789") >= n)
		ix = atoi(part);
	for (i = 0; i < m->n; i++)
		if (m->e[i].parent == parent && (ix >= 0 ? m->e[i].ix == ix :
		    strlen(m->e[i].id) == n &&
		    strncmp(m->e[i].id, part, n) == 0))
			return i;
	for (i = 0; ix < 0 && i < m->n; i++)
		if (m->e[i].parent == parent && strlen(m->e[i].title) == n &&
		    strncmp(m->e[i].title, part, n) == 0)
			return i;
	return -1;
}

/*
 * The default entry: "set default" ("saved": the grubenv's
 * saved_entry), a path "1>2" of numbers, ids or titles into submenus;
 * one not found is the first entry, as in GRUB; a submenu, its first.
 */
static int
menu_choose(const struct grub_menu *m, struct perr *e)
{
	const char *d = m->deflt, *gt;
	int at = -1, i;

	if (strcmp(d, "saved") == 0 &&
	    (d = var_get(&m->vars, "saved_entry")) == NULL)
		d = "0";
	for (d = *d ? d : "0"; d != NULL; d = gt ? gt + 1 : NULL) {
		gt = strchr(d, '>');
		i = menu_find(m, at, d, gt ? (size_t)(gt - d) : strlen(d));
		if (i < 0 && (at >= 0 || strcmp(d, "0") != 0)) {
			log_debug("kernel: %s: default \"%s\": no such entry: "
			    "the first", m->cfg, m->deflt);
			i = menu_find(m, -1, "0", 1);
			gt = NULL;
		}
		if ((at = i) < 0)
			break;
	}
	while (at >= 0 && m->e[at].submenu)
		at = menu_find(m, at, "0", 1);
	if (at < 0)
		return perr_set(e, PE_DATA, "%s: no menu entry", m->cfg);
	return at;
}

static int
is_word(const char *w, const char *const *words)
{
	for (; *words != NULL; words++)
		if (strcmp(w, *words) == 0)
			return 1;
	return 0;
}

/* "linux PATH ARGS...": the path into kb->kernel, the args joined */
static int
entry_linux(const struct grub_cmd *c, struct kernel_boot *kb,
    struct perr *e)
{
	size_t used = 0;
	int i;

	if (c->n < 2)
		return perr_set(e, PE_DATA, "a \"%s\" line with no kernel",
		    c->w[0]);
	if (c->unknown[1])
		return perr_set(e, PE_DATA, "kernel %s: $%s not known here",
		    c->w[1], c->unknown_name);
	for (i = 2; i < c->n; i++)
		if (c->unknown[i])
			return perr_set(e, PE_DATA, "kernel %s: its command "
			    "line has $%s, not known here", c->w[1],
			    c->unknown_name);
	if ((size_t)snprintf(kb->kernel, sizeof(kb->kernel), "%s", c->w[1])
	    >= sizeof(kb->kernel))
		return perr_set(e, PE_DATA, "a kernel path longer than %d "
		    "bytes", KERNEL_PATH_MAX - 1);
	kb->cmdline[0] = '\0';
	for (i = 2; i < c->n; i++) {
		if (used + strlen(c->w[i]) + 2 > sizeof(kb->cmdline))
			return perr_set(e, PE_DATA, "kernel %s: a command line"
			    " longer than %d bytes", c->w[1],
			    KERNEL_CMDLINE_MAX - 1);
		used += snprintf(kb->cmdline + used, sizeof(kb->cmdline) -
		    used, "%s%s", used ? " " : "", c->w[i]);
	}
	return 0;
}

/* "initrd A [B ...]": the paths into kb->initrd */
static int
entry_initrd(const struct grub_cmd *c, struct kernel_boot *kb,
    struct perr *e)
{
	int i;

	if (c->n - 1 > KERNEL_INITRDS_MAX)
		return perr_set(e, PE_DATA, "an initrd line of more than %d "
		    "files", KERNEL_INITRDS_MAX);
	for (i = 1; i < c->n; i++) {
		if (c->unknown[i])
			return perr_set(e, PE_DATA, "initrd %s: $%s not known"
			    " here", c->w[i], c->unknown_name);
		if ((size_t)snprintf(kb->initrd[i - 1], KERNEL_PATH_MAX,
		    "%s", c->w[i]) >= KERNEL_PATH_MAX)
			return perr_set(e, PE_DATA, "an initrd path longer "
			    "than %d bytes", KERNEL_PATH_MAX - 1);
	}
	kb->ninitrd = c->n - 1;
	return 0;
}

/* The chosen entry's body: its own "linux" and "initrd" lines (the
 * first of each), not those of blocks inside it */
static int
entry_read(const struct grub_menu *m, const char *buf, size_t len,
    const struct grub_entry *en, struct grub_cmd *c, struct kernel_boot *kb,
    struct perr *e)
{
	static const char *const linux_words[] = { "linux", "linux16",
	    "linuxefi", NULL };
	static const char *const initrd_words[] = { "initrd", "initrd16",
	    "initrdefi", NULL };
	struct grub_lex lx = { buf + en->body, buf + len, &m->vars, NULL };
	int depth = 0, rc, got_linux = 0, got_initrd = 0;

	while ((rc = grub_lex(&lx, c)) > 0 && !(c->close && depth == 0)) {
		depth += c->open - c->close;
		cmd_unkeyword(c);
		if (depth > 0 || c->open || c->close)
			continue;
		if (!got_linux && is_word(c->w[0], linux_words)) {
			got_linux = 1;
			rc = entry_linux(c, kb, e);
		} else if (!got_initrd && is_word(c->w[0], initrd_words)) {
			got_initrd = 1;
			rc = entry_initrd(c, kb, e);
		}
		if (rc < 0) {
			perr_prefix(e, "%s: entry \"%s\"", m->cfg, en->title);
			return rc;
		}
	}
	if (rc < 0)
		return perr_set(e, PE_DATA, "%s: %s", m->cfg, lx.err);
	if (!got_linux)
		return perr_set(e, PE_DATA, "%s: entry \"%s\": no linux line",
		    m->cfg, en->title);
	snprintf(kb->entry, sizeof(kb->entry), "%s", en->title);
	return 0;
}

/*
 * A path of grub.cfg, "(hd0,gpt2)/vmlinuz-6.1" or "/boot/vmlinuz-6.1",
 * resolved inside the root into path: GRUB read it from the filesystem
 * holding it, the root's or a /boot of its own, so "/x" is tried as
 * "/x" then "/boot/x". 0, or -PE_DATA with e.
 */
static int
grub_path(int rootfd, const char *what, char *path, struct perr *e)
{
	char raw[KERNEL_PATH_MAX], boot[KERNEL_PATH_MAX + 8];
	const char *p = path;
	int err;

	if (*p == '(' && (p = strchr(p, ')')) != NULL)
		p++;
	if (p == NULL || *p != '/')
		return perr_set(e, PE_DATA, "%s %s: not a path", what, path);
	snprintf(raw, sizeof(raw), "%s", p);
	if (where_in_root(rootfd, raw + 1, path, KERNEL_PATH_MAX) == 0)
		return 0;
	err = errno;
	snprintf(boot, sizeof(boot), "boot%s", raw);
	if (err == ENOENT &&
	    where_in_root(rootfd, boot, path, KERNEL_PATH_MAX) == 0)
		return 0;
	return perr_set(e, PE_DATA, "%s %s: %s", what, raw, err == ENOENT ?
	    "no such file inside the image, nor under /boot" :
	    where_error(err));
}

/* grub.cfg's text read, its menu scanned, the default entry's files */
static int
grub_entry(int rootfd, const char *uuid, struct grub_menu *m,
    const char *buf, size_t len, struct kernel_boot *kb, struct perr *e)
{
	char raw[KERNEL_CMDLINE_MAX];
	struct grub_cmd *c;
	int rc, i;

	if ((c = malloc(sizeof(*c))) == NULL)
		return perr_set(e, PE_FAIL, "out of memory");
	var_set(&m->vars, "menuentry_id_option", 19, "--id");
	grubenv_load(rootfd, m->dir, &m->vars);
	if ((rc = menu_scan(m, c, buf, len, e)) == 0 &&
	    (rc = menu_choose(m, e)) >= 0)
		rc = entry_read(m, buf, len, &m->e[rc], c, kb, e);
	free(c);
	if (rc < 0)
		return rc;
	rc = grub_path(rootfd, "kernel", kb->kernel, e);
	for (i = 0; rc == 0 && i < kb->ninitrd; i++)
		rc = grub_path(rootfd, "initrd", kb->initrd[i], e);
	if (rc < 0) {
		perr_prefix(e, "%s: entry \"%s\"", m->cfg, kb->entry);
		return rc;
	}
	snprintf(raw, sizeof(raw), "%s", kb->cmdline);
	if ((rc = cmdline_finish(raw, uuid, kb->cmdline, sizeof(kb->cmdline),
	    e)) < 0)
		perr_prefix(e, "%s: entry \"%s\"", m->cfg, kb->entry);
	return rc;
}

static int
grub_find(int rootfd, const char *uuid, struct kernel_boot *kb,
    struct perr *e)
{
	const char *const *dir;
	char path[64];
	struct grub_menu *m;
	size_t len;
	char *buf = NULL;
	int rc = -PE_NOTFOUND;

	for (dir = grub_dirs; *dir != NULL && rc == -PE_NOTFOUND; dir++) {
		snprintf(path, sizeof(path), "%s/grub.cfg", *dir);
		rc = file_read(rootfd, path, &buf, &len, e);
	}
	if (rc == -PE_NOTFOUND)
		return perr_set(e, PE_NOTFOUND, "no /boot/grub/grub.cfg");
	if (rc < 0)
		return rc;
	if ((m = calloc(1, sizeof(*m))) == NULL) {
		free(buf);
		return perr_set(e, PE_FAIL, "out of memory");
	}
	snprintf(m->cfgpath, sizeof(m->cfgpath), "/%s", path);
	m->cfg = m->cfgpath;
	m->dir = dir[-1];
	rc = grub_entry(rootfd, uuid, m, buf, len, kb, e);
	free(m);
	free(buf);
	return rc;
}

/* /vmlinuz and /initrd.img, or the same in /boot */
static int
links_find(int rootfd, const char *uuid, struct kernel_boot *kb,
    struct perr *e)
{
	static const struct { const char *kernel, *initrd; } links[] = {
		{ "vmlinuz", "initrd.img" },
		{ "boot/vmlinuz", "boot/initrd.img" },
	};
	size_t i;
	int err = 0;

	for (i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		if (where_in_root(rootfd, links[i].kernel, kb->kernel,
		    sizeof(kb->kernel)) == 0)
			break;
		if (i == 0)
			err = errno;
	}
	if (i == sizeof(links) / sizeof(links[0]))
		return perr_set(e, err == ENOENT ? PE_NOTFOUND : PE_DATA,
		    "/vmlinuz: %s", where_error(err));
	if (where_in_root(rootfd, links[i].initrd, kb->initrd[0],
	    sizeof(kb->initrd[0])) == 0)
		kb->ninitrd = 1;
	else if (errno != ENOENT)
		log_debug("kernel: /%s: %s: booting without", links[i].initrd,
		    where_error(errno));
	return cmdline_default(rootfd, uuid, kb, e);
}

/* A /boot/vmlinuz-VERSION to consider: no backup nor signature */
static int
version_is_kernel(const char *v)
{
	static const char *const tails[] = { ".old", ".bak", ".sig", NULL };
	const char *const *t;
	size_t n = strlen(v);

	if (n == 0 || n > 128 || strstr(v, ".dpkg-") != NULL)
		return 0;
	for (t = tails; *t != NULL; t++)
		if (n > strlen(*t) && strcmp(v + n - strlen(*t), *t) == 0)
			return 0;
	return 1;
}

/* The highest version among /boot/vmlinuz-*, into version */
static int
boot_highest(int rootfd, char *version, size_t len, char *kernel,
    struct perr *e)
{
	char path[KERNEL_PATH_MAX];
	struct dirent *de;
	DIR *dir;
	int fd, dfd, n;

	version[0] = '\0';
	if ((fd = mount_resolve(rootfd, "boot", 1)) < 0)
		return perr_set(e, PE_NOTFOUND, "/boot: %s",
		    where_error(errno));
	dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	close(fd);
	if (dfd < 0 || (dir = fdopendir(dfd)) == NULL) {
		if (dfd >= 0)
			close(dfd);
		return perr_errno(e, PE_DATA, "/boot");
	}
	for (n = 0; (de = readdir(dir)) != NULL &&
	    n < KERNEL_BOOT_FILES_MAX; n++) {
		if (strncmp(de->d_name, "vmlinuz-", 8) != 0 ||
		    !version_is_kernel(de->d_name + 8) || (version[0] &&
		    strverscmp(de->d_name + 8, version) <= 0))
			continue;
		snprintf(path, sizeof(path), "boot/%s", de->d_name);
		if (where_in_root(rootfd, path, kernel, KERNEL_PATH_MAX) == 0)
			snprintf(version, len, "%s", de->d_name + 8);
	}
	closedir(dir);
	if (version[0] == '\0')
		return perr_set(e, PE_NOTFOUND, "no /boot/vmlinuz-VERSION");
	return 0;
}

/* /boot/vmlinuz-VERSION, the highest, and its initrd */
static int
bootdir_find(int rootfd, const char *uuid, struct kernel_boot *kb,
    struct perr *e)
{
	static const struct { const char *head, *tail; } initrds[] = {
		{ "initrd.img-", "" },		/* Debian, Ubuntu */
		{ "initramfs-", ".img" },	/* Fedora, RHEL, Arch */
		{ "initrd-", "" },		/* SUSE */
	};
	size_t i;
	char version[160], path[KERNEL_PATH_MAX];
	int rc;

	if ((rc = boot_highest(rootfd, version, sizeof(version), kb->kernel,
	    e)) < 0)
		return rc;
	for (i = 0; i < sizeof(initrds) / sizeof(initrds[0]) &&
	    kb->ninitrd == 0; i++) {
		snprintf(path, sizeof(path), "boot/%s%s%s", initrds[i].head,
		    version, initrds[i].tail);
		if (where_in_root(rootfd, path, kb->initrd[0],
		    sizeof(kb->initrd[0])) == 0)
			kb->ninitrd = 1;
	}
	return cmdline_default(rootfd, uuid, kb, e);
}

static const struct {
	enum kernel_how how;
	const char *name;
	int (*find)(int, const char *, struct kernel_boot *, struct perr *);
	const char *next;	/* logged when this way gives nothing */
} kernel_ways[] = {
	{ KERNEL_GRUB, "GRUB", grub_find, "trying /vmlinuz" },
	{ KERNEL_LINKS, "links", links_find, "trying /boot/vmlinuz-*" },
	{ KERNEL_BOOT_DIR, "/boot", bootdir_find, NULL },
};

#define KERNEL_WAYS	(sizeof(kernel_ways) / sizeof(kernel_ways[0]))

const char *
kernel_how_name(enum kernel_how how)
{
	size_t i;

	for (i = 0; i < KERNEL_WAYS; i++)
		if (kernel_ways[i].how == how)
			return kernel_ways[i].name;
	return "none";
}

int
kernel_find(int rootfd, const char *uuid, struct kernel_boot *kb,
    struct perr *e)
{
	char fsuuid[KERNEL_UUID_MAX];
	size_t i;
	int rc;

	if (uuid != NULL && !uuid_is_valid(uuid))
		return perr_set(e, PE_USAGE, "%s: not a filesystem UUID",
		    uuid);
	if (uuid == NULL && fstab_root_uuid(rootfd, fsuuid) == 0)
		uuid = fsuuid;
	for (i = 0; i < KERNEL_WAYS; i++) {
		memset(kb, 0, sizeof(*kb));
		if ((rc = kernel_ways[i].find(rootfd, uuid, kb, e)) == 0) {
			kb->how = kernel_ways[i].how;
			return 0;
		}
		if (rc == -PE_FAIL)
			return rc;
		if (kernel_ways[i].next != NULL)
			log_debug("kernel: %s: %s", e->msg, kernel_ways[i].next);
	}
	memset(kb, 0, sizeof(*kb));
	return perr_set(e, PE_DATA, "no kernel: no grub.cfg entry, "
	    "no /vmlinuz, nothing in /boot");
}

/* ---- the root filesystem's UUID, from its superblock ---- */

static void
uuid_format(const uint8_t u[16], char *out, size_t len)
{
	snprintf(out, len, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2], u[3], u[4], u[5],
	    u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}

/* where each filesystem keeps its magic and its UUID */
static const struct fs_sb {
	off_t off;		/* of the superblock */
	unsigned magic_at, uuid_at;
	const char *magic;
	size_t magic_len;
} fs_sbs[] = {
	{ 1024, 0x38, 0x68, "\x53\xef", 2 },		/* ext2, ext3, ext4 */
	{ 0, 0x00, 0x20, "XFSB", 4 },			/* XFS */
	{ 0x10000, 0x40, 0x20, "_BHRfS_M", 8 },		/* btrfs (fsid) */
};

int
kernel_fs_uuid(const char *dev, char *out, size_t len)
{
	uint8_t sb[0x80], zero[16] = { 0 };
	size_t i;
	int fd, rc = -1;

	if ((fd = open(dev, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	for (i = 0; i < sizeof(fs_sbs) / sizeof(fs_sbs[0]) && rc < 0; i++) {
		const struct fs_sb *f = &fs_sbs[i];

		if (pread(fd, sb, sizeof(sb), f->off) != (ssize_t)sizeof(sb) ||
		    memcmp(sb + f->magic_at, f->magic, f->magic_len) != 0 ||
		    memcmp(sb + f->uuid_at, zero, 16) == 0)
			continue;
		uuid_format(sb + f->uuid_at, out, len);
		rc = 0;
	}
	close(fd);
	return rc;
}
