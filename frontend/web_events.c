/*
 * web_events.c -- GET /api/events?deployments=ID,ID...: the progress of
 * the caller's deployments as server-sent events (text/event-stream),
 * for the deployment page: each second the stream reads their state,
 * bytes, transitions, phases and post-install output (the fields of
 * GET /api/deployments plus the log), and sends an event "progress"
 * when something changed, else a comment line (which also keeps the
 * connection from its idle timeout). It ends with an event "end" when
 * every deployment is ready or failed, when the session it came by is
 * logged out or ended, or after WEB_EVENTS_LIFE_SEC (the page opens a
 * new one). At most WEB_EVENTS_PER_USER streams per user and
 * WEB_EVENTS_MAX in all: each holds a thread of libmicrohttpd and a
 * pooled database connection for a moment each second.
 */
#include <jansson.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pipold.h"
#include "web.h"

#define WEB_EVENTS_TICK_SEC	1	/* a poll of the database */

struct stream {
	struct pipold *pd;
	long long user, session;
	int admin;
	char ids[WEB_EVENTS_IDS_MAX * 20 + 3];	/* "{1,2}" */
	time_t born;
	int polls;
	char *out;		/* what is to be sent, from off */
	size_t len, off;
	char *last;		/* the last progress sent */
	int ending;		/* all ended: "end" comes next */
	int closed;		/* "end" queued: close once it is sent */
	int slot;
};

static pthread_mutex_t streams_mu = PTHREAD_MUTEX_INITIALIZER;
static long long streams[WEB_EVENTS_MAX];	/* a user per slot, or 0 */

/* A slot for user's stream: its index, -1 (the user has enough) or -2
 * (all are taken) */
static int
slot_take(long long user)
{
	int i, mine = 0, free_ix = -1;

	pthread_mutex_lock(&streams_mu);
	for (i = 0; i < WEB_EVENTS_MAX; i++) {
		if (streams[i] == user)
			mine++;
		else if (streams[i] == 0 && free_ix < 0)
			free_ix = i;
	}
	if (mine >= WEB_EVENTS_PER_USER)
		free_ix = -1;
	else if (free_ix < 0)
		free_ix = -2;
	else
		streams[free_ix] = user;
	pthread_mutex_unlock(&streams_mu);
	return free_ix;
}

static void
stream_free(void *cls)
{
	struct stream *s = cls;

	pthread_mutex_lock(&streams_mu);
	streams[s->slot] = 0;
	pthread_mutex_unlock(&streams_mu);
	free(s->out);
	free(s->last);
	free(s);
}

/* Queue text (an event or a comment) as what is to be sent next. A
 * line break in data starts another "data:" line (the client joins
 * them with a line break again): PostgreSQL's json_agg may put some
 * between elements, and a bare one would end the field. */
static void
stream_queue(struct stream *s, const char *event, const char *data)
{
	size_t n = strlen(data) + 64, o;
	const char *p;

	for (p = data; (p = strchr(p, '\n')) != NULL; p++)
		n += 6;
	free(s->out);
	s->off = s->len = 0;
	if ((s->out = malloc(n)) == NULL)
		return;
	if (event == NULL) {
		snprintf(s->out, n, ":%s\n\n", data);
		s->len = strlen(s->out);
		return;
	}
	o = (size_t)snprintf(s->out, n, "event: %s\ndata: ", event);
	for (p = data; *p != '\0'; p++) {
		if (*p == '\n') {
			memcpy(s->out + o, "\ndata: ", 7);
			o += 7;
		} else
			s->out[o++] = *p;
	}
	memcpy(s->out + o, "\n\n", 3);
	s->len = o + 2;
}

static const char events_sql[] = "SELECT json_build_object("
    "'deployments', coalesce(json_agg(json_build_object('id', d.id, "
    "'node', n.name, 'image', d.image_name || coalesce(':' || "
    "d.image_version, ''), 'kind', d.kind, 'state', d.state, 'reason', "
    "d.reason, 'fetched', d.bytes_fetched, 'written', d.bytes_written, "
    "'total', d.bytes_total, 'created', d.created, 'updated', d.updated, "
    "'transitions', (SELECT json_agg(json_build_object('state', t.state, "
    "'at', t.at) ORDER BY t.at) FROM deployment_transitions t WHERE "
    "t.deployment_id = d.id), 'phases', deployment_timeline(d.id), "
    "'log', (SELECT json_agg(json_build_object('script', l.script, "
    "'status', l.status, 'output', l.output, 'at', l.at) ORDER BY l.seq) "
    "FROM deployment_logs l WHERE l.deployment_id = d.id AND (NOT l.site "
    "OR $3::boolean))) ORDER BY d.id), '[]'))::text, coalesce(bool_and("
    "d.state IN ('ready', 'failed')), true)::text FROM deployments d JOIN "
    "nodes n ON n.id = d.node_id WHERE d.id = ANY($1::bigint[]) AND "
    "(d.user_id = $2 OR $3::boolean)";

/* One look at the database: what the stream sends next. */
static void
stream_poll(struct stream *s)
{
	char uid[24];
	const char *params[3] = { s->ids, uid, s->admin ? "t" : "f" };
	PGresult *r;
	PGconn *db;
	int live;

	if ((db = db_get(s->pd)) == NULL) {
		stream_queue(s, NULL, " database busy");
		return;
	}
	if (s->session != 0 && (live = web_session_live(db, s->session))
	    != 1) {
		db_put(s->pd, db);
		if (live == 0) {
			stream_queue(s, "end", "{\"why\":\"logged out\"}");
			s->closed = 1;
		} else
			stream_queue(s, NULL, " database error");
		return;
	}
	snprintf(uid, sizeof(uid), "%lld", s->user);
	r = db_query(db, events_sql, 3, params);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
		stream_queue(s, NULL, " database error");
	else if (s->last != NULL && strcmp(s->last, PQgetvalue(r, 0, 0)) == 0
	    && PQgetvalue(r, 0, 1)[0] != 't')
		stream_queue(s, NULL, "");
	else {
		stream_queue(s, "progress", PQgetvalue(r, 0, 0));
		free(s->last);
		s->last = strdup(PQgetvalue(r, 0, 0));
		s->ending = PQgetvalue(r, 0, 1)[0] == 't';
	}
	PQclear(r);
	db_put(s->pd, db);
}

/* libmicrohttpd's reader, in the connection's own thread: it waits
 * out the tick here (a thread per connection) */
static ssize_t
stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream *s = cls;
	size_t n;

	(void)pos;
	if (s->off >= s->len) {
		if (s->closed)
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (s->ending) {
			stream_queue(s, "end", "{\"why\":\"done\"}");
			s->closed = 1;
		} else if (time(NULL) - s->born > WEB_EVENTS_LIFE_SEC) {
			stream_queue(s, "end", "{\"why\":\"lifetime\"}");
			s->closed = 1;
		} else {
			if (s->polls++ > 0)
				sleep(WEB_EVENTS_TICK_SEC);
			stream_poll(s);
		}
		if (s->out == NULL)
			return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	n = s->len - s->off < max ? s->len - s->off : max;
	memcpy(buf, s->out + s->off, n);
	s->off += n;
	return (ssize_t)n;
}

/* "1,2,3" as "{1,2,3}": digits and commas, WEB_EVENTS_IDS_MAX ids of
 * 18 digits at most; 0 or -1 */
static int
ids_parse(const char *arg, char *out, size_t len)
{
	size_t i, run = 0, n = 1;

	if (arg == NULL || *arg == '\0' || strlen(arg) + 3 > len)
		return -1;
	for (i = 0; arg[i] != '\0'; i++) {
		if (arg[i] == ',') {
			if (run == 0 || ++n > WEB_EVENTS_IDS_MAX)
				return -1;
			run = 0;
		} else if (arg[i] >= '0' && arg[i] <= '9') {
			if (++run > 18)
				return -1;
		} else
			return -1;
	}
	if (run == 0)
		return -1;
	snprintf(out, len, "{%s}", arg);
	return 0;
}

static const char *const stream_headers[] = {
	"Cache-Control", "no-cache",
	"X-Content-Type-Options", "nosniff",
	"X-Accel-Buffering", "no",
	NULL
};

enum MHD_Result
web_events(struct http_req *rq)
{
	const char *arg = MHD_lookup_connection_value(rq->c,
	    MHD_GET_ARGUMENT_KIND, "deployments");
	struct stream *s;
	char err[96];
	int slot;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return MHD_NO;
	if (ids_parse(arg, s->ids, sizeof(s->ids)) < 0) {
		free(s);
		snprintf(err, sizeof(err), "deployments: up to %d ids, with "
		    "commas", WEB_EVENTS_IDS_MAX);
		return http_error(rq->c, MHD_HTTP_BAD_REQUEST, err);
	}
	if ((slot = slot_take(rq->who.id)) < 0) {
		free(s);
		if (slot == -1)
			snprintf(err, sizeof(err), "too many event streams: %d "
			    "per user", WEB_EVENTS_PER_USER);
		else
			snprintf(err, sizeof(err), "too many event streams: %d "
			    "in all", WEB_EVENTS_MAX);
		return http_error(rq->c, MHD_HTTP_TOO_MANY_REQUESTS, err);
	}
	s->slot = slot;
	s->pd = rq->pd;
	s->user = rq->who.id;
	s->admin = rq->who.admin;
	s->session = rq->who.session;
	s->born = time(NULL);
	return http_stream(rq->c, "text/event-stream", stream_headers,
	    stream_read, s, stream_free);
}
