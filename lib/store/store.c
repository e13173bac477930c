/* store.c - alert state in PostgreSQL: migrations, per-check state, history,
 * consumed offsets, the notification outbox, silences */
#include "alertq/store.h"

#include <fnmatch.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/strmap.h"

struct silence {
	char *match;
	int64_t starts_ms;
	int64_t ends_ms;
};

struct aq_store {
	PGconn *conn;
	char *dsn;
	int connection_lost;
	int worker_lock; /* held shared: take it again on reconnect */
	struct silence *silences;
	size_t nsilences;
	int64_t silences_read_ms; /* monotonic; 0: never read */
};

/* A batch of 20k states is a few MiB; this is far beyond any real one. */
#define COPY_MAX ((size_t)512 * 1024 * 1024)

struct aq_writes {
	struct aq_buf states; /* COPY text, one line a state; failed: the write fails */
	size_t nstates;
	json_t *transitions;
	json_t *notifications;
	json_t *offsets;
	json_t *dead_letters;
};

/* Each migration runs once, in order, in its own transaction. A new version
 * is a new entry at the end; an applied one is never edited. */
static const char *const migrations[] = {
	/* 1: state, history, offsets, outbox, silences */
	"CREATE TABLE alertq_checks ("
	"  check_name text PRIMARY KEY,"
	"  severity text NOT NULL,"
	"  previous_severity text NOT NULL DEFAULT 'OK',"
	"  since_ms bigint NOT NULL,"
	"  pending_severity text,"
	"  pending_count int NOT NULL DEFAULT 0,"
	"  has_value boolean NOT NULL DEFAULT false,"
	"  value double precision,"
	"  status text,"
	"  message text NOT NULL DEFAULT '',"
	"  labels jsonb NOT NULL DEFAULT '{}',"
	"  last_seen_ms bigint NOT NULL DEFAULT 0,"
	"  interval_ms bigint NOT NULL DEFAULT 0,"
	"  last_event_id text NOT NULL DEFAULT '',"
	"  stale_at_ms bigint NOT NULL DEFAULT 0,"
	"  stale boolean NOT NULL DEFAULT false,"
	"  episode bigint NOT NULL DEFAULT 0,"
	"  escalation_level int NOT NULL DEFAULT -1,"
	"  last_notified_ms bigint NOT NULL DEFAULT 0,"
	"  next_action_ms bigint NOT NULL DEFAULT 0,"
	"  told text[] NOT NULL DEFAULT '{}',"
	"  acked boolean NOT NULL DEFAULT false,"
	"  acked_by text,"
	"  acked_at timestamptz,"
	"  ack_comment text,"
	"  suppressed boolean NOT NULL DEFAULT false,"
	"  updated_at timestamptz NOT NULL DEFAULT now());"
	"CREATE INDEX alertq_checks_next_action ON alertq_checks (next_action_ms) WHERE next_action_ms > 0;"
	"CREATE INDEX alertq_checks_stale_at ON alertq_checks (stale_at_ms) WHERE stale_at_ms > 0;"
	"CREATE INDEX alertq_checks_suppressed ON alertq_checks (check_name) WHERE suppressed;"
	"CREATE TABLE alertq_transitions ("
	"  id bigserial PRIMARY KEY,"
	"  ref uuid NOT NULL UNIQUE,"
	"  check_name text NOT NULL,"
	"  from_severity text NOT NULL,"
	"  to_severity text NOT NULL,"
	"  value double precision,"
	"  message text NOT NULL DEFAULT '',"
	"  observed_at_ms bigint NOT NULL,"
	"  event_id text NOT NULL DEFAULT '',"
	"  cause text NOT NULL,"
	"  recorded_at timestamptz NOT NULL DEFAULT now());"
	"CREATE INDEX alertq_transitions_check ON alertq_transitions (check_name, id);"
	"CREATE TABLE alertq_offsets ("
	"  topic text NOT NULL,"
	"  partition int NOT NULL,"
	"  next_offset bigint NOT NULL,"
	"  updated_at timestamptz NOT NULL DEFAULT now(),"
	"  PRIMARY KEY (topic, partition));"
	"CREATE TABLE alertq_notifications ("
	"  id uuid PRIMARY KEY,"
	"  transition_ref uuid,"
	"  check_name text NOT NULL,"
	"  channel text NOT NULL,"
	"  level int NOT NULL DEFAULT 0,"
	"  resolved boolean NOT NULL DEFAULT false,"
	"  payload text NOT NULL,"
	"  state text NOT NULL DEFAULT 'pending',"
	"  attempts int NOT NULL DEFAULT 0,"
	"  next_attempt_at timestamptz NOT NULL DEFAULT now(),"
	"  give_up_at timestamptz NOT NULL,"
	"  last_error text,"
	"  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),"
	"  sent_at timestamptz);"
	"CREATE INDEX alertq_notifications_pending ON alertq_notifications (channel, next_attempt_at)"
	"  WHERE state = 'pending';"
	"CREATE INDEX alertq_notifications_check ON alertq_notifications (check_name);"
	"CREATE INDEX alertq_notifications_transition ON alertq_notifications (transition_ref);"
	"CREATE TABLE alertq_silences ("
	"  id bigserial PRIMARY KEY,"
	"  match text NOT NULL,"
	"  starts_at timestamptz NOT NULL DEFAULT now(),"
	"  ends_at timestamptz NOT NULL,"
	"  comment text NOT NULL DEFAULT '',"
	"  created_by text NOT NULL DEFAULT '',"
	"  created_at timestamptz NOT NULL DEFAULT now());"
	"CREATE TABLE alertq_dead_letters ("
	"  topic text NOT NULL,"
	"  partition int NOT NULL,"
	"  \"offset\" bigint NOT NULL,"
	"  reason text NOT NULL,"
	"  recorded_at timestamptz NOT NULL DEFAULT now(),"
	"  PRIMARY KEY (topic, partition, \"offset\"));",
	/* 2: the Kafka cluster a stored offset counts in; '' when not known */
	"ALTER TABLE alertq_offsets ADD COLUMN cluster_id text NOT NULL DEFAULT '';",
};

/* Advisory lock key of workers (shared) against a rebuild (exclusive); the
 * migrations use 7316514. */
#define WORKER_LOCK "7316515"

#define MIGRATION_COUNT ((int)(sizeof(migrations) / sizeof(migrations[0])))

int aq_store_schema_version(void)
{
	return MIGRATION_COUNT;
}

/* Copies the first line of libpq's message for conn into err. */
static void conn_error(aq_store_t *s, const char *what, char *err, size_t errlen)
{
	const char *msg = PQerrorMessage(s->conn);
	size_t len = strcspn(msg, "\n");
	snprintf(err, errlen, "%s: %.*s", what, (int)len, msg);
}

/* Checks a result; on failure fills err, notes whether the connection is
 * gone, clears res and returns -1. */
static int check_result(aq_store_t *s, PGresult *res, ExecStatusType want, const char *what, char *err,
			size_t errlen)
{
	if (res && PQresultStatus(res) == want)
		return 0;
	const char *msg = res ? PQresultErrorMessage(res) : "";
	if (!msg || !*msg)
		msg = PQerrorMessage(s->conn);
	size_t len = strcspn(msg, "\n");
	snprintf(err, errlen, "%s: %.*s", what, (int)len, msg);
	s->connection_lost = PQstatus(s->conn) != CONNECTION_OK;
	PQclear(res);
	return -1;
}

aq_store_t *aq_store_connect(const char *dsn, char *err, size_t errlen)
{
	aq_store_t *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->dsn = aq_strdup(dsn);
	if (aq_store_reconnect(s, err, errlen) != 0) {
		aq_store_free(s);
		return NULL;
	}
	return s;
}

int aq_store_reconnect(aq_store_t *s, char *err, size_t errlen)
{
	char shown[512];
	if (s->conn)
		PQfinish(s->conn);
	const char *keys[] = { "dbname", "connect_timeout", "application_name", NULL };
	const char *values[] = { s->dsn, "10", "alertq", NULL };
	s->conn = PQconnectdbParams(keys, values, 1);
	if (!s->conn || PQstatus(s->conn) != CONNECTION_OK) {
		aq_redact_url(s->dsn, shown, sizeof(shown));
		char what[600];
		snprintf(what, sizeof(what), "cannot connect to the state database %s", shown);
		conn_error(s, what, err, errlen);
		s->connection_lost = 1;
		return -1;
	}
	s->connection_lost = 0;
	PGresult *res = PQexec(s->conn, "SET client_min_messages = warning");
	PQclear(res);
	if (s->worker_lock) {
		s->worker_lock = 0;
		int held = aq_store_worker_lock(s, 0, err, errlen);
		if (held != 0) {
			if (held == 1)
				snprintf(err, errlen,
					 "a rebuild of the state (alertq replay --rebuild) is running");
			s->connection_lost = 1;
			/* no work without the lock: the connection goes */
			PQfinish(s->conn);
			s->conn = NULL;
			return -1;
		}
	}
	return 0;
}

int aq_store_worker_lock(aq_store_t *s, int exclusive, char *err, size_t errlen)
{
	PGresult *res = PQexec(s->conn,
			       exclusive ? "SELECT pg_try_advisory_lock(" WORKER_LOCK ")"
					 : "SELECT pg_try_advisory_lock_shared(" WORKER_LOCK ")");
	if (check_result(s, res, PGRES_TUPLES_OK, "taking the worker lock", err, errlen) != 0)
		return -1;
	int taken = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	if (taken && !exclusive)
		s->worker_lock = 1;
	return taken ? 0 : 1;
}

void aq_store_free(aq_store_t *s)
{
	if (!s)
		return;
	if (s->conn)
		PQfinish(s->conn);
	for (size_t i = 0; i < s->nsilences; i++)
		free(s->silences[i].match);
	free(s->silences);
	free(s->dsn);
	free(s);
}

PGconn *aq_store_conn(aq_store_t *s)
{
	return s->conn;
}

int aq_store_connection_lost(aq_store_t *s)
{
	return s->connection_lost || PQstatus(s->conn) != CONNECTION_OK;
}

int aq_store_exec(aq_store_t *s, const char *sql, char *err, size_t errlen)
{
	PGresult *res = PQexec(s->conn, sql);
	if (check_result(s, res, PGRES_COMMAND_OK, sql, err, errlen) != 0)
		return -1;
	PQclear(res);
	return 0;
}

int aq_store_begin(aq_store_t *s, char *err, size_t errlen)
{
	return aq_store_exec(s, "BEGIN", err, errlen);
}

int aq_store_commit(aq_store_t *s, char *err, size_t errlen)
{
	return aq_store_exec(s, "COMMIT", err, errlen);
}

void aq_store_rollback(aq_store_t *s)
{
	PQclear(PQexec(s->conn, "ROLLBACK"));
}

/* Runs a query whose rows do not matter; 0 or -1. */
static int run_query(aq_store_t *s, const char *sql, int nparams, const char *const *params, char *err,
		     size_t errlen)
{
	PGresult *res = PQexecParams(s->conn, sql, nparams, NULL, params, NULL, NULL, 0);
	ExecStatusType want = PQresultStatus(res) == PGRES_TUPLES_OK ? PGRES_TUPLES_OK : PGRES_COMMAND_OK;
	if (check_result(s, res, want, sql, err, errlen) != 0)
		return -1;
	PQclear(res);
	return 0;
}

int aq_store_migrate(aq_store_t *s, int *applied, char *err, size_t errlen)
{
	int rc = -1;
	*applied = 0;
	/* a session lock: workers starting together migrate one after another */
	if (run_query(s, "SELECT pg_advisory_lock(7316514)", 0, NULL, err, errlen) != 0)
		return -1;
	if (run_query(s,
		      "CREATE TABLE IF NOT EXISTS alertq_schema (version int PRIMARY KEY,"
		      " applied_at timestamptz NOT NULL DEFAULT now())",
		      0, NULL, err, errlen) != 0)
		goto unlock;
	for (int version = 1; version <= MIGRATION_COUNT; version++) {
		char v[16];
		char what[64];
		snprintf(v, sizeof(v), "%d", version);
		snprintf(what, sizeof(what), "migration %d", version);
		const char *params[] = { v };
		PGresult *res = PQexecParams(s->conn, "SELECT 1 FROM alertq_schema WHERE version = $1", 1,
					     NULL, params, NULL, NULL, 0);
		if (check_result(s, res, PGRES_TUPLES_OK, "reading the schema version", err, errlen) != 0)
			goto unlock;
		int done = PQntuples(res) > 0;
		PQclear(res);
		if (done)
			continue;
		if (aq_store_exec(s, "BEGIN", err, errlen) != 0)
			goto unlock;
		res = PQexec(s->conn, migrations[version - 1]);
		if (check_result(s, res, PGRES_COMMAND_OK, what, err, errlen) != 0)
			goto rollback;
		PQclear(res);
		if (run_query(s, "INSERT INTO alertq_schema (version) VALUES ($1)", 1, params, err, errlen) !=
		    0)
			goto rollback;
		if (aq_store_exec(s, "COMMIT", err, errlen) != 0)
			goto unlock;
		(*applied)++;
	}
	rc = 0;
	goto unlock;
rollback:
	PQclear(PQexec(s->conn, "ROLLBACK"));
unlock:
	PQclear(PQexec(s->conn, "SELECT pg_advisory_unlock(7316514)"));
	return rc;
}

int aq_store_offsets(aq_store_t *s, const char *topic, const int32_t *partitions, size_t n, int lock,
		     int64_t *next_offsets, char (*clusters)[AQ_CLUSTER_ID_MAX], char *err, size_t errlen)
{
	json_t *list = json_array();
	for (size_t i = 0; i < n; i++) {
		json_array_append_new(list, json_integer(partitions[i]));
		next_offsets[i] = -1;
		if (clusters)
			clusters[i][0] = '\0';
	}
	char *parts = json_dumps(list, JSON_COMPACT);
	json_decref(list);
	const char *params[] = { topic, parts };
	PGresult *res;
	if (lock) {
		res = PQexecParams(s->conn,
				   "INSERT INTO alertq_offsets (topic, partition, next_offset)"
				   " SELECT $1, p::int, -1 FROM jsonb_array_elements_text($2::jsonb) p"
				   " ON CONFLICT DO NOTHING",
				   2, NULL, params, NULL, NULL, 0);
		if (check_result(s, res, PGRES_COMMAND_OK, "creating offset rows", err, errlen) != 0) {
			free(parts);
			return -1;
		}
		PQclear(res);
	}
	res = PQexecParams(
		s->conn,
		lock ? "SELECT partition, next_offset, cluster_id FROM alertq_offsets WHERE topic = $1"
		       " AND partition IN (SELECT p::int FROM jsonb_array_elements_text($2::jsonb) p)"
		       " ORDER BY partition FOR UPDATE"
		     : "SELECT partition, next_offset, cluster_id FROM alertq_offsets WHERE topic = $1"
		       " AND partition IN"
		       " (SELECT p::int FROM jsonb_array_elements_text($2::jsonb) p)",
		2, NULL, params, NULL, NULL, 0);
	free(parts);
	if (check_result(s, res, PGRES_TUPLES_OK, "reading stored offsets", err, errlen) != 0)
		return -1;
	for (int row = 0; row < PQntuples(res); row++) {
		int32_t partition = (int32_t)atoi(PQgetvalue(res, row, 0));
		int64_t next = strtoll(PQgetvalue(res, row, 1), NULL, 10);
		for (size_t i = 0; i < n; i++) {
			if (partitions[i] != partition)
				continue;
			next_offsets[i] = next;
			if (clusters)
				snprintf(clusters[i], AQ_CLUSTER_ID_MAX, "%s", PQgetvalue(res, row, 2));
		}
	}
	PQclear(res);
	return 0;
}

static int parse_severity(const char *text)
{
	int status = aq_status_parse(text);
	return status == AQ_STATUS_NONE ? AQ_OK : status;
}

/* Fills st from row of res (columns in the order of STATE_COLUMNS). */
#define STATE_COLUMNS                                                                                        \
	"check_name, severity, since_ms, pending_severity, pending_count, has_value, value, status, "        \
	"message,"                                                                                           \
	" labels::text, last_seen_ms, interval_ms, last_event_id, stale_at_ms, stale, episode,"              \
	" escalation_level, last_notified_ms, next_action_ms, array_to_json(told)::text, acked, suppressed," \
	" previous_severity"

static void state_from_row(struct aq_state *st, PGresult *res, int row)
{
	aq_state_init(st, PQgetvalue(res, row, 0));
	st->known = 1;
	st->severity = parse_severity(PQgetvalue(res, row, 1));
	st->since_ms = strtoll(PQgetvalue(res, row, 2), NULL, 10);
	st->pending_severity = PQgetisnull(res, row, 3) ? AQ_STATUS_NONE
							: aq_status_parse(PQgetvalue(res, row, 3));
	st->pending_count = atoi(PQgetvalue(res, row, 4));
	st->has_value = PQgetvalue(res, row, 5)[0] == 't';
	st->value = st->has_value ? strtod(PQgetvalue(res, row, 6), NULL) : 0;
	st->status = PQgetisnull(res, row, 7) ? AQ_STATUS_NONE : aq_status_parse(PQgetvalue(res, row, 7));
	free(st->message);
	st->message = aq_strdup(PQgetvalue(res, row, 8));
	json_t *labels = json_loads(PQgetvalue(res, row, 9), 0, NULL);
	if (json_is_object(labels) && json_object_size(labels) > 0) {
		st->labels = calloc(json_object_size(labels), sizeof(*st->labels));
		const char *key;
		json_t *value;
		json_object_foreach(labels, key, value)
		{
			if (st->labels && json_is_string(value)) {
				st->labels[st->nlabels].key = aq_strdup(key);
				st->labels[st->nlabels].value = aq_strdup(json_string_value(value));
				st->nlabels++;
			}
		}
	}
	json_decref(labels);
	st->last_seen_ms = strtoll(PQgetvalue(res, row, 10), NULL, 10);
	st->interval_ms = strtoll(PQgetvalue(res, row, 11), NULL, 10);
	snprintf(st->last_event_id, sizeof(st->last_event_id), "%s", PQgetvalue(res, row, 12));
	st->stale_at_ms = strtoll(PQgetvalue(res, row, 13), NULL, 10);
	st->stale = PQgetvalue(res, row, 14)[0] == 't';
	st->episode = strtoll(PQgetvalue(res, row, 15), NULL, 10);
	st->escalation_level = atoi(PQgetvalue(res, row, 16));
	st->last_notified_ms = strtoll(PQgetvalue(res, row, 17), NULL, 10);
	st->next_action_ms = strtoll(PQgetvalue(res, row, 18), NULL, 10);
	json_t *told = json_loads(PQgetvalue(res, row, 19), 0, NULL);
	if (json_is_array(told) && json_array_size(told) > 0) {
		st->told = calloc(json_array_size(told), sizeof(*st->told));
		size_t i;
		json_t *name;
		json_array_foreach(told, i, name)
		{
			if (st->told && json_is_string(name))
				st->told[st->ntold++] = aq_strdup(json_string_value(name));
		}
	}
	json_decref(told);
	st->acked = PQgetvalue(res, row, 20)[0] == 't';
	st->suppressed = PQgetvalue(res, row, 21)[0] == 't';
	st->previous_severity = parse_severity(PQgetvalue(res, row, 22));
}

/* Indexes every row of res by its first column (a check name), so that
 * matching a batch's checks to their rows costs one probe each rather than a
 * scan of every row. Returns 0, or -1 when out of memory. */
static int row_index_build(struct aq_strmap *index, PGresult *res)
{
	int rows = PQntuples(res);
	aq_strmap_init(index);
	if (aq_strmap_reserve(index, (size_t)rows) != 0)
		return -1;
	for (int row = 0; row < rows; row++)
		if (aq_strmap_put(index, PQgetvalue(res, row, 0), (size_t)row, NULL) < 0)
			return -1;
	return 0;
}

int aq_store_load_states(aq_store_t *s, const char *const *checks, size_t n, int lock,
			 struct aq_state *states, char *err, size_t errlen)
{
	json_t *names = json_array();
	for (size_t i = 0; i < n; i++) {
		json_array_append_new(names, json_string(checks[i]));
		states[i].check = NULL;
	}
	char *list = json_dumps(names, JSON_COMPACT);
	json_decref(names);
	const char *params[] = { list };
	PGresult *res = PQexecParams(
		s->conn,
		lock ? "SELECT " STATE_COLUMNS " FROM alertq_checks WHERE check_name IN"
		       " (SELECT jsonb_array_elements_text($1::jsonb)) ORDER BY check_name FOR UPDATE"
		     : "SELECT " STATE_COLUMNS " FROM alertq_checks WHERE check_name IN"
		       " (SELECT jsonb_array_elements_text($1::jsonb))",
		1, NULL, params, NULL, NULL, 0);
	free(list);
	if (check_result(s, res, PGRES_TUPLES_OK, "loading check state", err, errlen) != 0)
		return -1;
	struct aq_strmap index;
	if (row_index_build(&index, res) != 0) {
		aq_strmap_release(&index);
		PQclear(res);
		snprintf(err, errlen, "loading check state: out of memory");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		size_t row;
		if (aq_strmap_get(&index, checks[i], &row))
			state_from_row(&states[i], res, (int)row);
		else
			aq_state_init(&states[i], checks[i]);
	}
	aq_strmap_release(&index);
	PQclear(res);
	return 0;
}

aq_writes_t *aq_writes_new(void)
{
	aq_writes_t *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	aq_buf_init(&w->states, COPY_MAX);
	w->transitions = json_array();
	w->notifications = json_array();
	w->offsets = json_array();
	w->dead_letters = json_array();
	return w;
}

void aq_writes_free(aq_writes_t *w)
{
	if (!w)
		return;
	aq_buf_release(&w->states);
	json_decref(w->transitions);
	json_decref(w->notifications);
	json_decref(w->offsets);
	json_decref(w->dead_letters);
	free(w);
}

void aq_writes_clear(aq_writes_t *w)
{
	aq_buf_reset(&w->states);
	w->nstates = 0;
	json_array_clear(w->transitions);
	json_array_clear(w->notifications);
	json_array_clear(w->offsets);
	json_array_clear(w->dead_letters);
}

int aq_writes_empty(const aq_writes_t *w)
{
	return w->nstates == 0 && json_array_size(w->transitions) == 0 &&
		json_array_size(w->notifications) == 0 && json_array_size(w->offsets) == 0 &&
		json_array_size(w->dead_letters) == 0;
}

static json_t *severity_json(int severity)
{
	const char *name = aq_status_name(severity);
	return name ? json_string(name) : json_null();
}

/* Appends s escaped for COPY's text format. */
static void copy_text(struct aq_buf *b, const char *s)
{
	size_t n = strlen(s);
	if (aq_buf_reserve(b, 2 * n) != 0)
		return;
	for (; *s; s++) {
		char c = *s;
		if (c == '\\' || c == '\t' || c == '\n' || c == '\r') {
			b->data[b->len++] = '\\';
			c = c == '\t' ? 't' : c == '\n' ? 'n' : c == '\r' ? 'r' : '\\';
		}
		b->data[b->len++] = c;
	}
	b->data[b->len] = '\0';
}

/* Appends s as the body of a JSON string (without quotes), then escaped
 * for COPY: \" and \\ become \\" and \\\\, control characters \\u00XX. */
static void copy_json_string(struct aq_buf *b, const char *s)
{
	char esc[8];
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			esc[2] = '\0';
			copy_text(b, esc);
		} else if (c < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			copy_text(b, esc);
		} else {
			aq_buf_add(b, (const char *)&c, 1);
		}
	}
}

/* Appends s as one element of an array literal ("..." with \" and \\),
 * escaped for COPY. */
static void copy_array_element(struct aq_buf *b, const char *s)
{
	aq_buf_add(b, "\"", 1);
	for (; *s; s++) {
		char two[3] = { '\\', *s, '\0' };
		copy_text(b, (*s == '"' || *s == '\\') ? two : two + 1);
	}
	aq_buf_add(b, "\"", 1);
}

static void copy_sep(struct aq_buf *b)
{
	aq_buf_add(b, "\t", 1);
}

static void copy_null(struct aq_buf *b)
{
	aq_buf_add(b, "\\N", 2);
}

static void copy_int(struct aq_buf *b, long long v)
{
	char text[32];
	int n = snprintf(text, sizeof(text), "%lld", v);
	aq_buf_add(b, text, (size_t)n);
}

static void copy_bool(struct aq_buf *b, int v)
{
	aq_buf_add(b, v ? "t" : "f", 1);
}

static void copy_severity(struct aq_buf *b, int severity)
{
	const char *name = aq_status_name(severity);
	if (name)
		copy_text(b, name);
	else
		copy_null(b);
}

/* One line of alertq_batch_states, its columns in STATE_COPY_COLUMNS order. */
void aq_writes_state(aq_writes_t *w, const struct aq_state *st)
{
	struct aq_buf *b = &w->states;
	copy_text(b, st->check);
	copy_sep(b);
	copy_severity(b, st->severity);
	copy_sep(b);
	copy_int(b, st->since_ms);
	copy_sep(b);
	copy_severity(b, st->previous_severity);
	copy_sep(b);
	copy_severity(b, st->pending_severity);
	copy_sep(b);
	copy_int(b, st->pending_count);
	copy_sep(b);
	copy_bool(b, st->has_value);
	copy_sep(b);
	if (st->has_value) {
		char text[40];
		int n = snprintf(text, sizeof(text), "%.17g", st->value);
		aq_buf_add(b, text, (size_t)n);
	} else {
		copy_null(b);
	}
	copy_sep(b);
	copy_severity(b, st->status);
	copy_sep(b);
	copy_text(b, st->message ? st->message : "");
	copy_sep(b);
	aq_buf_add(b, "{", 1);
	for (size_t i = 0; i < st->nlabels; i++) {
		aq_buf_add(b, i ? ",\"" : "\"", i ? 2 : 1);
		copy_json_string(b, st->labels[i].key);
		aq_buf_add(b, "\":\"", 3);
		copy_json_string(b, st->labels[i].value);
		aq_buf_add(b, "\"", 1);
	}
	aq_buf_add(b, "}", 1);
	copy_sep(b);
	copy_int(b, st->last_seen_ms);
	copy_sep(b);
	copy_int(b, st->interval_ms);
	copy_sep(b);
	copy_text(b, st->last_event_id);
	copy_sep(b);
	copy_int(b, st->stale_at_ms);
	copy_sep(b);
	copy_bool(b, st->stale);
	copy_sep(b);
	copy_int(b, st->episode);
	copy_sep(b);
	copy_int(b, st->escalation_level);
	copy_sep(b);
	copy_int(b, st->last_notified_ms);
	copy_sep(b);
	copy_int(b, st->next_action_ms);
	copy_sep(b);
	aq_buf_add(b, "{", 1);
	for (size_t i = 0; i < st->ntold; i++) {
		if (i)
			aq_buf_add(b, ",", 1);
		copy_array_element(b, st->told[i]);
	}
	aq_buf_add(b, "}", 1);
	copy_sep(b);
	copy_bool(b, st->acked);
	copy_sep(b);
	copy_bool(b, st->suppressed);
	aq_buf_add(b, "\n", 1);
	w->nstates++;
}

void aq_writes_transition(aq_writes_t *w, const char *check, const struct aq_transition *tr, char ref[37])
{
	aq_uuid4(ref);
	json_t *row = json_object();
	json_object_set_new(row, "ref", json_string(ref));
	json_object_set_new(row, "check_name", json_string(check));
	json_object_set_new(row, "from_severity", severity_json(tr->from));
	json_object_set_new(row, "to_severity", severity_json(tr->to));
	json_object_set_new(row, "value", tr->has_value ? json_real(tr->value) : json_null());
	json_object_set_new(row, "message", json_string(tr->message ? tr->message : ""));
	json_object_set_new(row, "observed_at_ms", json_integer(tr->observed_at_ms));
	json_object_set_new(row, "event_id", json_string(tr->event_id ? tr->event_id : ""));
	json_object_set_new(row, "cause", json_string(tr->stale ? "stale" : "result"));
	json_array_append_new(w->transitions, row);
}

void aq_writes_notification(aq_writes_t *w, const char *id, const char *transition_ref, const char *check,
			    const char *channel, int level, int resolved, const char *payload,
			    int64_t give_up_after_ms)
{
	json_t *row = json_object();
	json_object_set_new(row, "id", json_string(id));
	json_object_set_new(row, "transition_ref",
			    transition_ref && *transition_ref ? json_string(transition_ref) : json_null());
	json_object_set_new(row, "check_name", json_string(check));
	json_object_set_new(row, "channel", json_string(channel));
	json_object_set_new(row, "level", json_integer(level));
	json_object_set_new(row, "resolved", json_boolean(resolved));
	json_object_set_new(row, "payload", json_string(payload));
	json_object_set_new(row, "give_up_after_ms", json_integer(give_up_after_ms));
	json_array_append_new(w->notifications, row);
}

void aq_writes_offset(aq_writes_t *w, const char *topic, int32_t partition, int64_t next_offset)
{
	aq_writes_offset_in(w, topic, partition, next_offset, NULL);
}

void aq_writes_offset_in(aq_writes_t *w, const char *topic, int32_t partition, int64_t next_offset,
			 const char *cluster_id)
{
	json_t *row = json_object();
	json_object_set_new(row, "topic", json_string(topic));
	json_object_set_new(row, "partition", json_integer(partition));
	json_object_set_new(row, "next_offset", json_integer(next_offset));
	json_object_set_new(row, "cluster_id", json_string(cluster_id ? cluster_id : ""));
	json_array_append_new(w->offsets, row);
}

void aq_writes_dead_letter(aq_writes_t *w, const char *topic, int32_t partition, int64_t offset,
			   const char *reason)
{
	json_t *row = json_object();
	json_object_set_new(row, "topic", json_string(topic));
	json_object_set_new(row, "partition", json_integer(partition));
	json_object_set_new(row, "offset", json_integer(offset));
	json_object_set_new(row, "reason", json_string(reason));
	json_array_append_new(w->dead_letters, row);
}

/* Runs sql with the JSON array rows as $1, unless rows is empty. */
static int write_rows(aq_store_t *s, const char *sql, json_t *rows, const char *what, char *err,
		      size_t errlen)
{
	if (json_array_size(rows) == 0)
		return 0;
	char *text = json_dumps(rows, JSON_COMPACT | JSON_ENSURE_ASCII);
	if (!text) {
		snprintf(err, errlen, "%s: out of memory", what);
		return -1;
	}
	const char *params[] = { text };
	PGresult *res = PQexecParams(s->conn, sql, 1, NULL, params, NULL, NULL, 0);
	free(text);
	if (check_result(s, res, PGRES_COMMAND_OK, what, err, errlen) != 0)
		return -1;
	PQclear(res);
	return 0;
}

/* The columns aq_writes_state() writes, in order. */
#define STATE_COPY_COLUMNS                                                                                 \
	"check_name, severity, since_ms, previous_severity, pending_severity, pending_count, has_value, "  \
	"value,"                                                                                           \
	" status, message, labels, last_seen_ms, interval_ms, last_event_id, stale_at_ms, stale, episode," \
	" escalation_level, last_notified_ms, next_action_ms, told, acked, suppressed"

/* Sends the batch's states with COPY into a temporary table, then updates
 * the rows that exist and inserts the new ones: no JSON to build or parse,
 * and a plain UPDATE of known rows costs the server far less than an
 * upsert. Returns 0 or -1. */
static int write_states(aq_store_t *s, aq_writes_t *w, char *err, size_t errlen)
{
	if (w->nstates == 0)
		return 0;
	if (w->states.failed) {
		snprintf(err, errlen, "saving check state: out of memory");
		return -1;
	}
	if (aq_store_exec(
		    s,
		    "CREATE TEMP TABLE IF NOT EXISTS alertq_batch_states (check_name text, severity text,"
		    " since_ms bigint, previous_severity text, pending_severity text, pending_count int,"
		    " has_value boolean, value double precision, status text, message text, labels jsonb,"
		    " last_seen_ms bigint, interval_ms bigint, last_event_id text, stale_at_ms bigint,"
		    " stale boolean, episode bigint, escalation_level int, last_notified_ms bigint,"
		    " next_action_ms bigint, told text[], acked boolean, suppressed boolean)"
		    " ON COMMIT DELETE ROWS",
		    err, errlen) != 0)
		return -1;
	PGresult *res = PQexec(s->conn, "COPY alertq_batch_states (" STATE_COPY_COLUMNS ") FROM STDIN");
	if (check_result(s, res, PGRES_COPY_IN, "saving check state", err, errlen) != 0)
		return -1;
	PQclear(res);
	int sent = PQputCopyData(s->conn, w->states.data, (int)w->states.len);
	if (PQputCopyEnd(s->conn, sent == 1 ? NULL : "the client could not send the rows") != 1) {
		conn_error(s, "saving check state", err, errlen);
		s->connection_lost = PQstatus(s->conn) != CONNECTION_OK;
		return -1;
	}
	res = PQgetResult(s->conn);
	int rc = check_result(s, res, PGRES_COMMAND_OK, "saving check state", err, errlen);
	if (rc == 0)
		PQclear(res);
	/* the COPY's result is followed by a NULL; read it so the next query can go */
	while ((res = PQgetResult(s->conn)) != NULL)
		PQclear(res);
	if (rc != 0)
		return -1;
	if (aq_store_exec(
		    s,
		    "UPDATE alertq_checks c SET severity = b.severity, since_ms = b.since_ms,"
		    " pending_severity = b.pending_severity, pending_count = b.pending_count,"
		    " has_value = b.has_value, value = b.value, status = b.status, message = b.message,"
		    " labels = b.labels, last_seen_ms = b.last_seen_ms, interval_ms = b.interval_ms,"
		    " last_event_id = b.last_event_id, stale_at_ms = b.stale_at_ms, stale = b.stale,"
		    " episode = b.episode, escalation_level = b.escalation_level,"
		    " last_notified_ms = b.last_notified_ms, next_action_ms = b.next_action_ms, told = "
		    "b.told,"
		    " acked = b.acked, acked_by = CASE WHEN b.acked THEN c.acked_by END,"
		    " acked_at = CASE WHEN b.acked THEN c.acked_at END,"
		    " ack_comment = CASE WHEN b.acked THEN c.ack_comment END, suppressed = b.suppressed,"
		    " previous_severity = b.previous_severity, updated_at = now()"
		    " FROM alertq_batch_states b WHERE c.check_name = b.check_name",
		    err, errlen) != 0)
		return -1;
	return aq_store_exec(
		s,
		"INSERT INTO alertq_checks (" STATE_COPY_COLUMNS ", updated_at)"
		" SELECT " STATE_COPY_COLUMNS ", now() FROM alertq_batch_states b"
		" WHERE NOT EXISTS (SELECT 1 FROM alertq_checks c WHERE c.check_name = b.check_name)"
		" ON CONFLICT (check_name) DO UPDATE SET severity = EXCLUDED.severity,"
		" since_ms = EXCLUDED.since_ms, pending_severity = EXCLUDED.pending_severity,"
		" pending_count = EXCLUDED.pending_count, has_value = EXCLUDED.has_value,"
		" value = EXCLUDED.value, status = EXCLUDED.status, message = EXCLUDED.message,"
		" labels = EXCLUDED.labels, last_seen_ms = EXCLUDED.last_seen_ms,"
		" interval_ms = EXCLUDED.interval_ms, last_event_id = EXCLUDED.last_event_id,"
		" stale_at_ms = EXCLUDED.stale_at_ms, stale = EXCLUDED.stale, episode = EXCLUDED.episode,"
		" escalation_level = EXCLUDED.escalation_level,"
		" last_notified_ms = EXCLUDED.last_notified_ms, next_action_ms = EXCLUDED.next_action_ms,"
		" told = EXCLUDED.told, acked = EXCLUDED.acked,"
		" acked_by = CASE WHEN EXCLUDED.acked THEN alertq_checks.acked_by END,"
		" acked_at = CASE WHEN EXCLUDED.acked THEN alertq_checks.acked_at END,"
		" ack_comment = CASE WHEN EXCLUDED.acked THEN alertq_checks.ack_comment END,"
		" suppressed = EXCLUDED.suppressed, previous_severity = EXCLUDED.previous_severity,"
		" updated_at = now()",
		err, errlen);
}

int aq_store_write(aq_store_t *s, aq_writes_t *w, char *err, size_t errlen)
{
	if (write_states(s, w, err, errlen) != 0)
		return -1;
	if (write_rows(s,
		       "INSERT INTO alertq_transitions (ref, check_name, from_severity, to_severity, value, "
		       "message,"
		       " observed_at_ms, event_id, cause)"
		       " SELECT ref, check_name, from_severity, to_severity, value, message, observed_at_ms,"
		       " event_id, cause FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS e(doc, ord),"
		       " jsonb_to_record(e.doc) AS x(ref uuid, check_name text, from_severity text,"
		       " to_severity text, value double precision, message text, observed_at_ms bigint,"
		       " event_id text, cause text) ORDER BY e.ord",
		       w->transitions, "saving transitions", err, errlen) != 0)
		return -1;
	if (write_rows(s,
		       "INSERT INTO alertq_notifications (id, transition_ref, check_name, channel, level, "
		       "resolved,"
		       " payload, give_up_at)"
		       " SELECT id, transition_ref, check_name, channel, level, resolved, payload,"
		       " now() + give_up_after_ms * interval '1 millisecond'"
		       " FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS e(doc, ord), "
		       "jsonb_to_record(e.doc)"
		       " AS x(id uuid, transition_ref uuid, check_name text, channel text, level int,"
		       " resolved boolean, payload text, give_up_after_ms bigint) ORDER BY e.ord",
		       w->notifications, "saving notifications", err, errlen) != 0)
		return -1;
	if (write_rows(
		    s,
		    "INSERT INTO alertq_dead_letters (topic, partition, \"offset\", reason)"
		    " SELECT topic, partition, \"offset\", reason FROM jsonb_to_recordset($1::jsonb)"
		    " AS x(topic text, partition int, \"offset\" bigint, reason text) ON CONFLICT DO NOTHING",
		    w->dead_letters, "saving dead letters", err, errlen) != 0)
		return -1;
	if (write_rows(s,
		       "INSERT INTO alertq_offsets (topic, partition, next_offset, cluster_id)"
		       " SELECT topic, partition, next_offset, cluster_id FROM jsonb_to_recordset($1::jsonb)"
		       " AS x(topic text, partition int, next_offset bigint, cluster_id text)"
		       " ON CONFLICT (topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset,"
		       " cluster_id = EXCLUDED.cluster_id, updated_at = now()",
		       w->offsets, "saving offsets", err, errlen) != 0)
		return -1;
	return 0;
}

static void silences_clear(aq_store_t *s)
{
	for (size_t i = 0; i < s->nsilences; i++)
		free(s->silences[i].match);
	free(s->silences);
	s->silences = NULL;
	s->nsilences = 0;
}

void aq_store_silences_invalidate(aq_store_t *s)
{
	s->silences_read_ms = 0;
}

/* Reads silences that have not ended; keeps the old list when that fails. */
static void silences_read(aq_store_t *s)
{
	PGresult *res = PQexec(s->conn,
			       "SELECT match, (extract(epoch FROM starts_at) * 1000)::bigint,"
			       " (extract(epoch FROM ends_at) * 1000)::bigint FROM alertq_silences"
			       " WHERE ends_at > now()");
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		PQclear(res);
		return;
	}
	silences_clear(s);
	int rows = PQntuples(res);
	if (rows > 0)
		s->silences = calloc((size_t)rows, sizeof(*s->silences));
	for (int row = 0; s->silences && row < rows; row++) {
		s->silences[row].match = aq_strdup(PQgetvalue(res, row, 0));
		s->silences[row].starts_ms = strtoll(PQgetvalue(res, row, 1), NULL, 10);
		s->silences[row].ends_ms = strtoll(PQgetvalue(res, row, 2), NULL, 10);
		s->nsilences++;
	}
	PQclear(res);
	s->silences_read_ms = aq_monotonic_ms();
}

int aq_store_silenced(aq_store_t *s, const char *check, int64_t now_ms)
{
	if (s->silences_read_ms == 0 || aq_monotonic_ms() - s->silences_read_ms >= 1000)
		silences_read(s);
	for (size_t i = 0; i < s->nsilences; i++) {
		const struct silence *si = &s->silences[i];
		if (si->starts_ms <= now_ms && now_ms < si->ends_ms && fnmatch(si->match, check, 0) == 0)
			return 1;
	}
	return 0;
}

int aq_store_claim(aq_store_t *s, const char *channel, int max, struct aq_outbox_row **rows, size_t *n,
		   char *err, size_t errlen)
{
	char limit[16];
	snprintf(limit, sizeof(limit), "%d", max);
	const char *params[] = { channel, limit };
	*rows = NULL;
	*n = 0;
	PGresult *res = PQexecParams(
		s->conn,
		"SELECT id, payload, attempts, give_up_at <= now() FROM alertq_notifications"
		" WHERE channel = $1 AND state = 'pending' AND next_attempt_at <= now()"
		" ORDER BY next_attempt_at, created_at LIMIT $2 FOR UPDATE SKIP LOCKED",
		2, NULL, params, NULL, NULL, 0);
	if (check_result(s, res, PGRES_TUPLES_OK, "claiming notifications", err, errlen) != 0)
		return -1;
	int count = PQntuples(res);
	if (count > 0) {
		*rows = calloc((size_t)count, sizeof(**rows));
		if (!*rows) {
			PQclear(res);
			snprintf(err, errlen, "claiming notifications: out of memory");
			return -1;
		}
	}
	for (int row = 0; row < count; row++) {
		struct aq_outbox_row *r = &(*rows)[row];
		snprintf(r->id, sizeof(r->id), "%s", PQgetvalue(res, row, 0));
		r->payload = aq_strdup(PQgetvalue(res, row, 1));
		r->attempts = atoi(PQgetvalue(res, row, 2));
		r->give_up = PQgetvalue(res, row, 3)[0] == 't';
	}
	*n = (size_t)count;
	PQclear(res);
	return 0;
}

void aq_outbox_rows_free(struct aq_outbox_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(rows[i].payload);
	free(rows);
}

/* Appends s to an array literal as a quoted element, or NULL when empty. */
static void array_text(struct aq_buf *b, const char *s)
{
	if (!s || !*s) {
		aq_buf_add(b, "NULL", 4);
		return;
	}
	aq_buf_add(b, "\"", 1);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			aq_buf_add(b, "\\", 1);
		aq_buf_add(b, s, 1);
	}
	aq_buf_add(b, "\"", 1);
}

int aq_store_mark_many(aq_store_t *s, const struct aq_mark *marks, size_t n, char *err, size_t errlen)
{
	struct aq_buf ids, outcomes, retries, errors;
	char number[32];
	if (n == 0)
		return 0;
	aq_buf_init(&ids, COPY_MAX);
	aq_buf_init(&outcomes, COPY_MAX);
	aq_buf_init(&retries, COPY_MAX);
	aq_buf_init(&errors, COPY_MAX);
	for (size_t i = 0; i < n; i++) {
		const char *sep = i ? "," : "{";
		aq_buf_add(&ids, sep, 1);
		aq_buf_add(&ids, marks[i].id, strlen(marks[i].id));
		aq_buf_add(&outcomes, sep, 1);
		aq_buf_add(&outcomes, number,
			   (size_t)snprintf(number, sizeof(number), "%d", marks[i].outcome));
		aq_buf_add(&retries, sep, 1);
		aq_buf_add(&retries, number,
			   (size_t)snprintf(number, sizeof(number), "%lld", (long long)marks[i].retry_ms));
		aq_buf_add(&errors, sep, 1);
		array_text(&errors, marks[i].error);
	}
	aq_buf_add(&ids, "}", 1);
	aq_buf_add(&outcomes, "}", 1);
	aq_buf_add(&retries, "}", 1);
	aq_buf_add(&errors, "}", 1);
	int rc = -1;
	if (ids.failed || outcomes.failed || retries.failed || errors.failed) {
		snprintf(err, errlen, "recording deliveries: out of memory");
		goto out;
	}
	const char *params[] = { ids.data, outcomes.data, retries.data, errors.data };
	PGresult *res = PQexecParams(
		s->conn,
		"UPDATE alertq_notifications n SET attempts = n.attempts + 1, last_error = m.error,"
		" state = CASE WHEN m.outcome = 0 THEN 'sent' WHEN m.outcome = 2 THEN 'undeliverable'"
		"   WHEN now() + m.retry_ms * interval '1 millisecond' > n.give_up_at THEN 'undeliverable'"
		"   ELSE 'pending' END,"
		" sent_at = CASE WHEN m.outcome = 0 THEN now() END,"
		" next_attempt_at = now() + m.retry_ms * interval '1 millisecond'"
		" FROM unnest($1::uuid[], $2::int[], $3::bigint[], $4::text[]) AS m(id, outcome, retry_ms, "
		"error)"
		" WHERE n.id = m.id",
		4, NULL, params, NULL, NULL, 0);
	if (check_result(s, res, PGRES_COMMAND_OK, "recording deliveries", err, errlen) != 0)
		goto out;
	PQclear(res);
	rc = 0;
out:
	aq_buf_release(&ids);
	aq_buf_release(&outcomes);
	aq_buf_release(&retries);
	aq_buf_release(&errors);
	return rc;
}

int aq_store_due_checks(aq_store_t *s, int64_t now_ms, int max, char ***names, size_t *n, char *err,
			size_t errlen)
{
	char now_text[24];
	char limit[16];
	snprintf(now_text, sizeof(now_text), "%lld", (long long)now_ms);
	snprintf(limit, sizeof(limit), "%d", max);
	const char *params[] = { now_text, limit };
	*names = NULL;
	*n = 0;
	PGresult *res = PQexecParams(
		s->conn,
		"SELECT check_name FROM alertq_checks WHERE (next_action_ms > 0 AND"
		" next_action_ms <= $1::bigint) OR (stale_at_ms > 0 AND stale_at_ms <= $1::bigint)"
		" OR suppressed ORDER BY check_name LIMIT $2 FOR UPDATE SKIP LOCKED",
		2, NULL, params, NULL, NULL, 0);
	if (check_result(s, res, PGRES_TUPLES_OK, "finding due checks", err, errlen) != 0)
		return -1;
	int count = PQntuples(res);
	if (count > 0) {
		*names = calloc((size_t)count, sizeof(**names));
		if (!*names) {
			PQclear(res);
			snprintf(err, errlen, "finding due checks: out of memory");
			return -1;
		}
	}
	for (int row = 0; row < count; row++)
		(*names)[row] = aq_strdup(PQgetvalue(res, row, 0));
	*n = (size_t)count;
	PQclear(res);
	return 0;
}

void aq_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}
