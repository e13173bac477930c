/* queries.c - what the alertq command reads and changes in the state
 * database: status, history, acknowledgements, silences */
#include <fnmatch.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

/* Runs a query with text parameters; NULL with the reason in err. */
static PGresult *query(aq_store_t *s, const char *sql, int nparams, const char *const *params,
		       const char *what, char *err, size_t errlen)
{
	PGresult *res = PQexecParams(s->conn, sql, nparams, NULL, params, NULL, NULL, 0);
	ExecStatusType want = PQresultStatus(res) == PGRES_TUPLES_OK ? PGRES_TUPLES_OK : PGRES_COMMAND_OK;
	if (store_check_result(s, res, want, what, err, errlen) != 0)
		return NULL;
	return res;
}

/* Runs an UPDATE; sets *changed to the rows it changed. Returns 0 or -1. */
static int update_rows(aq_store_t *s, const char *sql, int nparams, const char *const *params,
		       const char *what, int *changed, char *err, size_t errlen)
{
	PGresult *res = query(s, sql, nparams, params, what, err, errlen);
	if (!res)
		return -1;
	*changed = atoi(PQcmdTuples(res));
	PQclear(res);
	return 0;
}

static json_t *text_or_null(PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) || !PQgetvalue(res, row, col)[0]
		? json_null()
		: json_string(PQgetvalue(res, row, col));
}

static json_t *integer_at(PGresult *res, int row, int col)
{
	return json_integer(strtoll(PQgetvalue(res, row, col), NULL, 10));
}

static json_t *bool_at(PGresult *res, int row, int col)
{
	return json_boolean(PQgetvalue(res, row, col)[0] == 't');
}

static int out_of_memory(char *err, size_t errlen)
{
	snprintf(err, errlen, "out of memory");
	return -1;
}

/* Appends o to list; -1 (o freed) when memory runs out. */
static int append(json_t *list, json_t *o, char *err, size_t errlen)
{
	if (o && json_array_append_new(list, o) == 0)
		return 0;
	return out_of_memory(err, errlen);
}

/* How one column of a result row becomes a member of a JSON object. */
enum column_kind {
	COLUMN_TEXT,
	COLUMN_TEXT_OR_NULL, /* NULL or empty: JSON null */
	COLUMN_INTEGER,
	COLUMN_BOOL,
	COLUMN_REAL_OR_NULL, /* SQL NULL: JSON null */
	COLUMN_JSON_OBJECT,  /* a jsonb object as text; anything else: {} */
};

struct column {
	const char *key;
	int field;
	enum column_kind kind;
};

static json_t *column_value(PGresult *res, int row, const struct column *c)
{
	switch (c->kind) {
	case COLUMN_TEXT:
		return json_string(PQgetvalue(res, row, c->field));
	case COLUMN_TEXT_OR_NULL:
		return text_or_null(res, row, c->field);
	case COLUMN_INTEGER:
		return integer_at(res, row, c->field);
	case COLUMN_BOOL:
		return bool_at(res, row, c->field);
	case COLUMN_REAL_OR_NULL:
		return PQgetisnull(res, row, c->field)
			? json_null()
			: json_real(strtod(PQgetvalue(res, row, c->field), NULL));
	case COLUMN_JSON_OBJECT: {
		json_t *o = json_loads(PQgetvalue(res, row, c->field), 0, NULL);
		if (json_is_object(o))
			return o;
		json_decref(o);
		return json_object();
	}
	}
	return json_null();
}

/* Turns each row of res into an object with the members cols name, in that
 * order. Returns 0 with *list a new array the caller owns, or -1 with *list
 * NULL and the reason in err when memory runs out. res stays the caller's. */
static int rows_to_list(PGresult *res, const struct column *cols, size_t ncols, json_t **list, char *err,
			size_t errlen)
{
	json_t *l = json_array();
	int rc = l ? 0 : out_of_memory(err, errlen);
	for (int i = 0; rc == 0 && i < PQntuples(res); i++) {
		json_t *o = json_object();
		for (size_t c = 0; o && c < ncols; c++)
			json_object_set_new(o, cols[c].key, column_value(res, i, &cols[c]));
		rc = append(l, o, err, errlen);
	}
	if (rc != 0) {
		json_decref(l);
		l = NULL;
	}
	*list = l;
	return rc;
}

/* The globs of the silences in force now (array of strings). */
static json_t *active_silences(aq_store_t *s, char *err, size_t errlen)
{
	PGresult *res = query(
		s, "SELECT match FROM alertq_silences WHERE starts_at <= now() AND ends_at > now()", 0, NULL,
		"reading silences", err, errlen);
	if (!res)
		return NULL;
	json_t *globs = json_array();
	for (int i = 0; globs && i < PQntuples(res); i++)
		json_array_append_new(globs, json_string(PQgetvalue(res, i, 0)));
	PQclear(res);
	if (!globs)
		out_of_memory(err, errlen);
	return globs;
}

static int matches_any(json_t *globs, const char *check)
{
	size_t i;
	json_t *glob;
	json_array_foreach(globs, i, glob)
	{
		if (fnmatch(json_string_value(glob), check, 0) == 0)
			return 1;
	}
	return 0;
}

/* The columns `status` shows of each check, and their order: worst first. */
#define STATUS_SELECT                                                                                 \
	"SELECT c.check_name, c.severity, c.since_ms, c.has_value, c.value, c.last_seen_ms, c.acked," \
	" c.escalation_level, c.message, c.labels::text, coalesce(c.acked_by, ''), c.stale,"          \
	" (SELECT count(*) FROM alertq_notifications n WHERE n.check_name = c.check_name"             \
	"  AND n.state = 'undeliverable'),"                                                           \
	" (SELECT count(*) FROM alertq_notifications n WHERE n.check_name = c.check_name"             \
	"  AND n.state IN ('pending', 'held')), c.previous_severity,"                                 \
	" c.annotations::text, c.flapping, c.inhibited_by FROM alertq_checks c"
#define STATUS_ORDER                                                             \
	" ORDER BY CASE c.severity WHEN 'CRITICAL' THEN 0 WHEN 'UNKNOWN' THEN 1" \
	" WHEN 'WARNING' THEN 2 ELSE 3 END, c.check_name"

int aq_store_status(aq_store_t *s, json_t **checks, char *err, size_t errlen)
{
	return aq_store_status_of(s, AQ_STATUS_ALL, NULL, checks, err, errlen);
}

int aq_store_status_of(aq_store_t *s, enum aq_status_scope scope, const char *check, json_t **checks,
		       char *err, size_t errlen)
{
	*checks = NULL;
	json_t *globs = active_silences(s, err, errlen);
	if (!globs)
		return -1;
	const char *params[] = { check };
	PGresult *res = query(s,
			      scope == AQ_STATUS_ONE              ? STATUS_SELECT " WHERE c.check_name = $1"
				      : scope == AQ_STATUS_NOT_OK ? STATUS_SELECT
				      " WHERE c.severity <> 'OK'" STATUS_ORDER
								  : STATUS_SELECT STATUS_ORDER,
			      scope == AQ_STATUS_ONE ? 1 : 0, scope == AQ_STATUS_ONE ? params : NULL,
			      "reading check states", err, errlen);
	if (!res) {
		json_decref(globs);
		return -1;
	}
	json_t *list = json_array();
	int rc = list ? 0 : out_of_memory(err, errlen);
	for (int i = 0; rc == 0 && i < PQntuples(res); i++) {
		json_t *o = json_object();
		const char *check = PQgetvalue(res, i, 0);
		json_t *labels = json_loads(PQgetvalue(res, i, 9), 0, NULL);
		json_object_set_new(o, "check", json_string(check));
		json_object_set_new(o, "severity", json_string(PQgetvalue(res, i, 1)));
		json_object_set_new(o, "previous_severity", json_string(PQgetvalue(res, i, 14)));
		json_object_set_new(o, "since_ms", integer_at(res, i, 2));
		json_object_set_new(o, "value",
				    PQgetvalue(res, i, 3)[0] == 't'
					    ? json_real(strtod(PQgetvalue(res, i, 4), NULL))
					    : json_null());
		json_object_set_new(o, "last_seen_ms", integer_at(res, i, 5));
		json_object_set_new(o, "acked", bool_at(res, i, 6));
		json_object_set_new(o, "acked_by", text_or_null(res, i, 10));
		json_object_set_new(o, "silenced", json_boolean(matches_any(globs, check)));
		json_object_set_new(o, "escalation_level", integer_at(res, i, 7));
		json_object_set_new(o, "message", json_string(PQgetvalue(res, i, 8)));
		json_object_set_new(o, "labels", labels ? labels : json_object());
		json_object_set_new(o, "stale", bool_at(res, i, 11));
		json_object_set_new(o, "undeliverable", integer_at(res, i, 12));
		json_object_set_new(o, "pending_notifications", integer_at(res, i, 13));
		/* annotations */
		static const struct column annotations = { "annotations", 15, COLUMN_JSON_OBJECT };
		json_object_set_new(o, "annotations", column_value(res, i, &annotations));
		json_object_set_new(o, "flapping", bool_at(res, i, 16));
		/* inhibition */
		json_object_set_new(o, "inhibited_by", text_or_null(res, i, 17));
		rc = append(list, o, err, errlen);
	}
	PQclear(res);
	json_decref(globs);
	if (rc != 0) {
		json_decref(list);
		return -1;
	}
	*checks = list;
	return 0;
}

int aq_store_undeliverable(aq_store_t *s, int max, json_t **rows, char *err, size_t errlen)
{
	char limit[16];
	snprintf(limit, sizeof(limit), "%d", max);
	const char *params[] = { limit };
	*rows = NULL;
	PGresult *res = query(
		s,
		"SELECT check_name, channel, attempts, coalesce(last_error, ''), created_at::timestamptz(0)"
		" FROM alertq_notifications WHERE state = 'undeliverable' ORDER BY created_at DESC LIMIT "
		"$1::int",
		1, params, "reading undeliverable notifications", err, errlen);
	if (!res)
		return -1;
	static const struct column cols[] = {
		{ "check", 0, COLUMN_TEXT },       { "channel", 1, COLUMN_TEXT },
		{ "attempts", 2, COLUMN_INTEGER }, { "last_error", 3, COLUMN_TEXT },
		{ "created_at", 4, COLUMN_TEXT },
	};
	int rc = rows_to_list(res, cols, sizeof(cols) / sizeof(cols[0]), rows, err, errlen);
	PQclear(res);
	return rc;
}

int aq_store_totals(aq_store_t *s, struct aq_store_totals *t, char *err, size_t errlen)
{
	memset(t, 0, sizeof(*t));
	PGresult *res = query(s,
			      "SELECT (SELECT count(*) FROM alertq_dead_letters),"
			      " (SELECT count(*) FROM alertq_notifications WHERE state = 'pending'),"
			      " (SELECT count(*) FROM alertq_notifications WHERE state = 'undeliverable'),"
			      " (SELECT count(*) FROM alertq_dead_letters WHERE starts_with(reason, "
			      "'" AQ_CHECK_REFUSED_REASON "'))",
			      0, NULL, "counting notifications", err, errlen);
	if (!res)
		return -1;
	t->dead_letters = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	t->pending = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	t->undeliverable = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
	t->checks_refused = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
	PQclear(res);
	return 0;
}

int aq_store_history(aq_store_t *s, const char *check, json_t **transitions, json_t **notifications,
		     char *err, size_t errlen)
{
	const char *params[] = { check };
	*transitions = NULL;
	*notifications = NULL;
	PGresult *known = query(s, "SELECT 1 FROM alertq_checks WHERE check_name = $1", 1, params,
				"reading the history", err, errlen);
	if (!known)
		return -1;
	int exists = PQntuples(known) > 0;
	PQclear(known);
	if (!exists)
		return 1;
	PGresult *tr = query(
		s,
		"SELECT ref, from_severity, to_severity, value, message, observed_at_ms, event_id, cause,"
		" recorded_at::timestamptz(3), annotations::text, flapping"
		" FROM alertq_transitions WHERE check_name = $1 ORDER BY id",
		1, params, "reading transitions", err, errlen);
	if (!tr)
		return -1;
	PGresult *nt = query(
		s,
		"SELECT coalesce(transition_ref::text, ''), channel, level, resolved, state, attempts,"
		" coalesce(last_error, ''), created_at::timestamptz(3), "
		"coalesce(sent_at::timestamptz(3)::text, ''),"
		" id,"
		/* quotes inside the payload's JSON strings are escaped: these
		 * match its own members only, and never fail on any payload */
		" position('\"status\":\"flapping\"' in payload) > 0,"
		" position('\"flapping\":true' in payload) > 0"
		" FROM alertq_notifications WHERE check_name = $1"
		/* grouped delivery: what still waits in its group */
		" UNION ALL SELECT coalesce(m.transition_ref::text, ''), m.channel, m.level, m.resolved,"
		" 'grouping', 0, 'waiting in its group until ' || "
		"coalesce(g.next_flush_at::timestamptz(0)::text, '-'),"
		" m.created_at::timestamptz(3), '', m.notification_id,"
		" position('\"status\":\"flapping\"' in m.payload) > 0,"
		" position('\"flapping\":true' in m.payload) > 0 FROM alertq_group_members m"
		" LEFT JOIN alertq_groups g USING (channel, group_key) WHERE m.check_name = $1"
		" ORDER BY 8, 2",
		1, params, "reading notifications", err, errlen);
	if (!nt) {
		PQclear(tr);
		return -1;
	}
	static const struct column tcols[] = {
		{ "ref", 0, COLUMN_TEXT },         { "from", 1, COLUMN_TEXT },
		{ "to", 2, COLUMN_TEXT },          { "value", 3, COLUMN_REAL_OR_NULL },
		{ "message", 4, COLUMN_TEXT },     { "observed_at_ms", 5, COLUMN_INTEGER },
		{ "event_id", 6, COLUMN_TEXT },    { "cause", 7, COLUMN_TEXT },
		{ "recorded_at", 8, COLUMN_TEXT }, { "annotations", 9, COLUMN_JSON_OBJECT },
		{ "flapping", 10, COLUMN_TEXT },
	};
	static const struct column ncols[] = {
		{ "notification_id", 9, COLUMN_TEXT },   { "transition_ref", 0, COLUMN_TEXT_OR_NULL },
		{ "channel", 1, COLUMN_TEXT },           { "escalation_level", 2, COLUMN_INTEGER },
		{ "resolved", 3, COLUMN_BOOL },          { "delivery", 4, COLUMN_TEXT },
		{ "attempts", 5, COLUMN_INTEGER },       { "last_error", 6, COLUMN_TEXT_OR_NULL },
		{ "created_at", 7, COLUMN_TEXT },        { "sent_at", 8, COLUMN_TEXT_OR_NULL },
		{ "flapping_started", 10, COLUMN_BOOL }, { "flapping", 11, COLUMN_BOOL },
	};
	int rc = rows_to_list(tr, tcols, sizeof(tcols) / sizeof(tcols[0]), transitions, err, errlen);
	if (rc == 0 &&
	    rows_to_list(nt, ncols, sizeof(ncols) / sizeof(ncols[0]), notifications, err, errlen) != 0) {
		json_decref(*transitions);
		*transitions = NULL;
		rc = -1;
	}
	PQclear(tr);
	PQclear(nt);
	return rc;
}

int aq_store_ack(aq_store_t *s, const char *check, const char *by, const char *comment, int *changed,
		 char *err, size_t errlen)
{
	const char *params[] = { check, by, comment };
	return update_rows(
		s,
		"UPDATE alertq_checks SET acked = true, acked_by = $2, ack_comment = $3, acked_at = now(),"
		" next_action_ms = 0, updated_at = now() WHERE check_name = $1 AND severity <> 'OK'",
		3, params, "acknowledging", changed, err, errlen);
}

int aq_store_unack(aq_store_t *s, const char *check, int64_t now_ms, int *changed, char *err, size_t errlen)
{
	char now[24];
	snprintf(now, sizeof(now), "%lld", (long long)now_ms);
	const char *params[] = { check, now };
	/* next_action now: the worker's ticker works out what is due again */
	return update_rows(
		s,
		"UPDATE alertq_checks SET acked = false, acked_by = NULL, ack_comment = NULL,"
		" acked_at = NULL,"
		" next_action_ms = CASE WHEN severity <> 'OK' OR flapping THEN $2::bigint ELSE 0 END,"
		" updated_at = now() WHERE check_name = $1 AND acked",
		2, params, "removing the acknowledgement", changed, err, errlen);
}

int aq_store_silence_add(aq_store_t *s, const char *glob, int64_t duration_ms, const char *comment,
			 const char *by, int64_t *id, char ends_at[AQ_STORE_TIME_MAX], char *err,
			 size_t errlen)
{
	char duration[24];
	snprintf(duration, sizeof(duration), "%lld", (long long)duration_ms);
	const char *params[] = { glob, duration, comment ? comment : "", by };
	PGresult *res = query(
		s,
		"INSERT INTO alertq_silences (match, ends_at, comment, created_by)"
		" VALUES ($1, now() + $2::bigint * interval '1 millisecond', $3, coalesce($4, ''))"
		" RETURNING id, ends_at::timestamptz(0)",
		4, params, "adding a silence", err, errlen);
	if (!res)
		return -1;
	*id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	snprintf(ends_at, AQ_STORE_TIME_MAX, "%s", PQgetvalue(res, 0, 1));
	PQclear(res);
	return 0;
}

int aq_store_silences(aq_store_t *s, json_t **silences, char *err, size_t errlen)
{
	*silences = NULL;
	PGresult *res = query(
		s,
		"SELECT id, match, starts_at::timestamptz(0), ends_at::timestamptz(0), comment, created_by"
		" FROM alertq_silences WHERE ends_at > now() ORDER BY id",
		0, NULL, "reading silences", err, errlen);
	if (!res)
		return -1;
	static const struct column cols[] = {
		{ "id", 0, COLUMN_INTEGER },     { "match", 1, COLUMN_TEXT },
		{ "starts_at", 2, COLUMN_TEXT }, { "ends_at", 3, COLUMN_TEXT },
		{ "comment", 4, COLUMN_TEXT },   { "created_by", 5, COLUMN_TEXT },
	};
	int rc = rows_to_list(res, cols, sizeof(cols) / sizeof(cols[0]), silences, err, errlen);
	PQclear(res);
	return rc;
}

int aq_store_unsilence(aq_store_t *s, int64_t id, int *changed, char *err, size_t errlen)
{
	char text[24];
	snprintf(text, sizeof(text), "%lld", (long long)id);
	const char *params[] = { text };
	return update_rows(
		s, "UPDATE alertq_silences SET ends_at = now() WHERE id = $1::bigint AND ends_at > now()", 1,
		params, "ending a silence", changed, err, errlen);
}
