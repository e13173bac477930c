/* admin.c - what the alertq command shows and changes: status, history,
 * acknowledgements, silences */
#include "alertq/admin.h"

#include <fnmatch.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* Runs a query with text parameters; NULL with the reason in err. */
static PGresult *query(aq_store_t *s, const char *sql, int nparams, const char *const *params, char *err,
		       size_t errlen)
{
	PGresult *res = PQexecParams(aq_store_conn(s), sql, nparams, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);
	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
		return res;
	const char *msg = PQresultErrorMessage(res);
	snprintf(err, errlen, "%.*s", (int)strcspn(msg, "\n"), msg);
	PQclear(res);
	return NULL;
}

static void format_ms(const char *ms_text, char *buf, size_t len)
{
	int64_t ms = strtoll(ms_text, NULL, 10);
	if (ms <= 0)
		snprintf(buf, len, "-");
	else
		aq_format_time(ms, buf, len);
}

static json_t *time_json(const char *ms_text)
{
	char buf[40];
	int64_t ms = strtoll(ms_text, NULL, 10);
	if (ms <= 0)
		return json_null();
	aq_format_time(ms, buf, sizeof(buf));
	return json_string(buf);
}

/* Active silence globs; *n of them. */
static char **active_silences(aq_store_t *s, size_t *n, char *err, size_t errlen)
{
	*n = 0;
	PGresult *res = query(
		s, "SELECT match FROM alertq_silences WHERE starts_at <= now() AND ends_at > now()", 0, NULL,
		err, errlen);
	if (!res)
		return NULL;
	int rows = PQntuples(res);
	char **globs = calloc((size_t)rows + 1, sizeof(*globs));
	for (int i = 0; globs && i < rows; i++)
		globs[(*n)++] = aq_strdup(PQgetvalue(res, i, 0));
	PQclear(res);
	return globs;
}

static int matches_any(char **globs, size_t n, const char *check)
{
	for (size_t i = 0; i < n; i++)
		if (fnmatch(globs[i], check, 0) == 0)
			return 1;
	return 0;
}

int aq_admin_status(aq_store_t *s, FILE *out, int json, char *err, size_t errlen)
{
	size_t nglobs = 0;
	char **globs = active_silences(s, &nglobs, err, errlen);
	if (!globs)
		return 1;
	PGresult *res = query(
		s,
		"SELECT c.check_name, c.severity, c.since_ms, c.has_value, c.value, c.last_seen_ms, c.acked,"
		" c.escalation_level, c.message, c.labels::text, coalesce(c.acked_by, ''), c.stale,"
		" (SELECT count(*) FROM alertq_notifications n WHERE n.check_name = c.check_name"
		"  AND n.state = 'undeliverable'),"
		" (SELECT count(*) FROM alertq_notifications n WHERE n.check_name = c.check_name"
		"  AND n.state = 'pending'), c.previous_severity"
		" FROM alertq_checks c ORDER BY CASE c.severity WHEN 'CRITICAL' THEN 0 WHEN 'UNKNOWN' THEN 1"
		" WHEN 'WARNING' THEN 2 ELSE 3 END, c.check_name",
		0, NULL, err, errlen);
	if (!res) {
		aq_names_free(globs, nglobs);
		return 1;
	}
	int rows = PQntuples(res);
	if (json) {
		json_t *list = json_array();
		for (int i = 0; i < rows; i++) {
			json_t *o = json_object();
			const char *check = PQgetvalue(res, i, 0);
			json_object_set_new(o, "check", json_string(check));
			json_object_set_new(o, "severity", json_string(PQgetvalue(res, i, 1)));
			json_object_set_new(o, "previous_severity", json_string(PQgetvalue(res, i, 14)));
			json_object_set_new(o, "since", time_json(PQgetvalue(res, i, 2)));
			json_object_set_new(o, "value",
					    PQgetvalue(res, i, 3)[0] == 't'
						    ? json_real(strtod(PQgetvalue(res, i, 4), NULL))
						    : json_null());
			json_object_set_new(o, "last_seen", time_json(PQgetvalue(res, i, 5)));
			json_object_set_new(o, "acked", json_boolean(PQgetvalue(res, i, 6)[0] == 't'));
			json_object_set_new(o, "acked_by",
					    PQgetvalue(res, i, 10)[0] ? json_string(PQgetvalue(res, i, 10))
								      : json_null());
			json_object_set_new(o, "silenced", json_boolean(matches_any(globs, nglobs, check)));
			int level = atoi(PQgetvalue(res, i, 7));
			json_object_set_new(o, "escalation_level",
					    level >= 0 ? json_integer(level) : json_null());
			json_object_set_new(o, "message", json_string(PQgetvalue(res, i, 8)));
			json_t *labels = json_loads(PQgetvalue(res, i, 9), 0, NULL);
			json_object_set_new(o, "labels", labels ? labels : json_object());
			json_object_set_new(o, "stale", json_boolean(PQgetvalue(res, i, 11)[0] == 't'));
			json_object_set_new(o, "undeliverable",
					    json_integer(strtoll(PQgetvalue(res, i, 12), NULL, 10)));
			json_object_set_new(o, "pending_notifications",
					    json_integer(strtoll(PQgetvalue(res, i, 13), NULL, 10)));
			json_array_append_new(list, o);
		}
		json_dumpf(list, out, JSON_INDENT(2));
		fputc('\n', out);
		json_decref(list);
	} else {
		fprintf(out, "%-36s %-9s %-24s %-14s %-24s %-4s %-8s %s\n", "CHECK", "SEVERITY", "SINCE",
			"VALUE", "LAST SEEN", "ACK", "SILENCED", "LEVEL");
		for (int i = 0; i < rows; i++) {
			char since[40], seen[40], value[32];
			format_ms(PQgetvalue(res, i, 2), since, sizeof(since));
			format_ms(PQgetvalue(res, i, 5), seen, sizeof(seen));
			if (PQgetvalue(res, i, 3)[0] == 't')
				snprintf(value, sizeof(value), "%g", strtod(PQgetvalue(res, i, 4), NULL));
			else
				snprintf(value, sizeof(value), "-");
			int level = atoi(PQgetvalue(res, i, 7));
			char level_text[16];
			if (level >= 0)
				snprintf(level_text, sizeof(level_text), "%d", level);
			else
				snprintf(level_text, sizeof(level_text), "-");
			fprintf(out, "%-36s %-9s %-24s %-14s %-24s %-4s %-8s %s%s\n", PQgetvalue(res, i, 0),
				PQgetvalue(res, i, 1), since, value, seen,
				PQgetvalue(res, i, 6)[0] == 't' ? "yes" : "no",
				matches_any(globs, nglobs, PQgetvalue(res, i, 0)) ? "yes" : "no", level_text,
				PQgetvalue(res, i, 11)[0] == 't' ? " (stale)" : "");
		}
		if (rows == 0)
			fprintf(out, "(no checks reported yet)\n");
	}
	PQclear(res);
	aq_names_free(globs, nglobs);
	if (json)
		return 0;

	res = query(
		s,
		"SELECT check_name, channel, attempts, coalesce(last_error, ''), created_at::timestamptz(0)"
		" FROM alertq_notifications WHERE state = 'undeliverable' ORDER BY created_at DESC LIMIT 50",
		0, NULL, err, errlen);
	if (!res)
		return 1;
	if (PQntuples(res) > 0) {
		fprintf(out, "\nUNDELIVERABLE NOTIFICATIONS (newest first)\n");
		for (int i = 0; i < PQntuples(res); i++)
			fprintf(out, "  %s  %s -> %s after %s attempt(s): %s\n", PQgetvalue(res, i, 4),
				PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
				PQgetvalue(res, i, 3));
	}
	PQclear(res);
	res = query(s,
		    "SELECT (SELECT count(*) FROM alertq_dead_letters),"
		    " (SELECT count(*) FROM alertq_notifications WHERE state = 'pending'),"
		    " (SELECT count(*) FROM alertq_notifications WHERE state = 'undeliverable')",
		    0, NULL, err, errlen);
	if (!res)
		return 1;
	fprintf(out, "\nnotifications pending: %s, undeliverable: %s; dead letters: %s\n",
		PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

/* One line of history for a notification object built by aq_admin_history;
 * when is printed first when given. */
static void print_notification(FILE *out, json_t *n, const char *when)
{
	json_t *last_error = json_object_get(n, "last_error");
	fprintf(out, "    %s%s%-20s %-8s level %lld  %-13s %lld attempt(s)%s%s\n", when ? when : "",
		when ? "  " : "", json_string_value(json_object_get(n, "channel")),
		json_string_value(json_object_get(n, "status")),
		(long long)json_integer_value(json_object_get(n, "escalation_level")),
		json_string_value(json_object_get(n, "delivery")),
		(long long)json_integer_value(json_object_get(n, "attempts")),
		json_is_string(last_error) ? "  last error: " : "",
		json_is_string(last_error) ? json_string_value(last_error) : "");
}

int aq_admin_history(aq_store_t *s, const char *check, FILE *out, int json, char *err, size_t errlen)
{
	const char *params[] = { check };
	PGresult *known = query(s, "SELECT 1 FROM alertq_checks WHERE check_name = $1", 1, params, err,
				errlen);
	if (!known)
		return 1;
	int exists = PQntuples(known) > 0;
	PQclear(known);
	if (!exists) {
		snprintf(err, errlen, "no such check '%s'", check);
		return 1;
	}
	PGresult *tr = query(
		s,
		"SELECT ref, from_severity, to_severity, value, message, observed_at_ms, event_id, cause,"
		" recorded_at::timestamptz(3) FROM alertq_transitions WHERE check_name = $1 ORDER BY id",
		1, params, err, errlen);
	if (!tr)
		return 1;
	PGresult *nt = query(
		s,
		"SELECT coalesce(transition_ref::text, ''), channel, level, resolved, state, attempts,"
		" coalesce(last_error, ''), created_at::timestamptz(3), "
		"coalesce(sent_at::timestamptz(3)::text, ''),"
		" id FROM alertq_notifications WHERE check_name = $1 ORDER BY created_at, channel",
		1, params, err, errlen);
	if (!nt) {
		PQclear(tr);
		return 1;
	}
	json_t *doc = json_object();
	json_t *transitions = json_array();
	json_t *escalations = json_array();
	json_object_set_new(doc, "check", json_string(check));
	for (int i = 0; i < PQntuples(tr); i++) {
		json_t *t = json_object();
		json_object_set_new(t, "from", json_string(PQgetvalue(tr, i, 1)));
		json_object_set_new(t, "to", json_string(PQgetvalue(tr, i, 2)));
		json_object_set_new(t, "value",
				    PQgetisnull(tr, i, 3) ? json_null()
							  : json_real(strtod(PQgetvalue(tr, i, 3), NULL)));
		json_object_set_new(t, "message", json_string(PQgetvalue(tr, i, 4)));
		json_object_set_new(t, "observed_at", time_json(PQgetvalue(tr, i, 5)));
		json_object_set_new(t, "event_id", json_string(PQgetvalue(tr, i, 6)));
		json_object_set_new(t, "cause", json_string(PQgetvalue(tr, i, 7)));
		json_object_set_new(t, "recorded_at", json_string(PQgetvalue(tr, i, 8)));
		json_object_set_new(t, "notifications", json_array());
		json_object_set_new(t, "ref", json_string(PQgetvalue(tr, i, 0)));
		json_array_append_new(transitions, t);
	}
	for (int i = 0; i < PQntuples(nt); i++) {
		json_t *n = json_object();
		json_object_set_new(n, "notification_id", json_string(PQgetvalue(nt, i, 9)));
		json_object_set_new(n, "channel", json_string(PQgetvalue(nt, i, 1)));
		json_object_set_new(n, "escalation_level", json_integer(atoi(PQgetvalue(nt, i, 2))));
		json_object_set_new(n, "status",
				    json_string(PQgetvalue(nt, i, 3)[0] == 't' ? "resolved" : "firing"));
		json_object_set_new(n, "delivery", json_string(PQgetvalue(nt, i, 4)));
		json_object_set_new(n, "attempts", json_integer(atoi(PQgetvalue(nt, i, 5))));
		json_object_set_new(n, "last_error",
				    PQgetvalue(nt, i, 6)[0] ? json_string(PQgetvalue(nt, i, 6))
							    : json_null());
		json_object_set_new(n, "created_at", json_string(PQgetvalue(nt, i, 7)));
		json_object_set_new(n, "sent_at",
				    PQgetvalue(nt, i, 8)[0] ? json_string(PQgetvalue(nt, i, 8))
							    : json_null());
		const char *ref = PQgetvalue(nt, i, 0);
		json_t *owner = NULL;
		size_t k;
		json_t *t;
		json_array_foreach(transitions, k, t)
		{
			if (*ref && strcmp(json_string_value(json_object_get(t, "ref")), ref) == 0)
				owner = json_object_get(t, "notifications");
		}
		json_array_append_new(owner ? owner : escalations, n);
	}
	json_object_set_new(doc, "transitions", transitions);
	json_object_set_new(doc, "escalations", escalations);
	PQclear(tr);
	PQclear(nt);

	if (json) {
		json_dumpf(doc, out, JSON_INDENT(2));
		fputc('\n', out);
		json_decref(doc);
		return 0;
	}
	fprintf(out, "history of %s\n", check);
	size_t k;
	json_t *t;
	json_array_foreach(transitions, k, t)
	{
		json_t *value = json_object_get(t, "value");
		char value_text[32] = "-";
		if (json_is_number(value))
			snprintf(value_text, sizeof(value_text), "%g", json_number_value(value));
		fprintf(out, "%s  %-8s -> %-8s value %-12s %s%s\n",
			json_is_string(json_object_get(t, "observed_at"))
				? json_string_value(json_object_get(t, "observed_at"))
				: "-",
			json_string_value(json_object_get(t, "from")),
			json_string_value(json_object_get(t, "to")), value_text,
			json_string_value(json_object_get(t, "message")),
			strcmp(json_string_value(json_object_get(t, "cause")), "stale") == 0 ? " (stale)"
											     : "");
		size_t j;
		json_t *n;
		json_array_foreach(json_object_get(t, "notifications"), j, n)
		{
			print_notification(out, n, NULL);
		}
	}
	if (json_array_size(escalations) > 0) {
		fprintf(out, "escalations and repeats\n");
		size_t j;
		json_t *n;
		json_array_foreach(escalations, j, n)
		{
			print_notification(out, n, json_string_value(json_object_get(n, "created_at")));
		}
	}
	json_decref(doc);
	return 0;
}

/* Runs an UPDATE; returns the rows it changed, or -1 with the reason in err. */
static int update_rows(aq_store_t *s, const char *sql, int nparams, const char *const *params, char *err,
		       size_t errlen)
{
	PGresult *res = query(s, sql, nparams, params, err, errlen);
	if (!res)
		return -1;
	int changed = atoi(PQcmdTuples(res));
	PQclear(res);
	return changed;
}

int aq_admin_ack(aq_store_t *s, const char *check, const char *by, const char *comment, char *err,
		 size_t errlen)
{
	const char *params[] = { check, by && *by ? by : getenv("USER"), comment };
	int changed = update_rows(
		s,
		"UPDATE alertq_checks SET acked = true, acked_by = $2, ack_comment = $3, acked_at = now(),"
		" next_action_ms = 0, updated_at = now() WHERE check_name = $1 AND severity <> 'OK'",
		3, params, err, errlen);
	if (changed < 0)
		return 1;
	if (changed == 0) {
		snprintf(err, errlen, "check '%s' is unknown or not firing", check);
		return 1;
	}
	return 0;
}

int aq_admin_unack(aq_store_t *s, const char *check, char *err, size_t errlen)
{
	char now[24];
	snprintf(now, sizeof(now), "%lld", (long long)aq_now_ms());
	const char *params[] = { check, now };
	/* next_action now: the worker's ticker works out what is due again */
	int changed = update_rows(
		s,
		"UPDATE alertq_checks SET acked = false, acked_by = NULL, ack_comment = NULL,"
		" acked_at = NULL, next_action_ms = CASE WHEN severity <> 'OK' THEN $2::bigint ELSE 0 END,"
		" updated_at = now() WHERE check_name = $1 AND acked",
		2, params, err, errlen);
	if (changed < 0)
		return 1;
	if (changed == 0) {
		snprintf(err, errlen, "check '%s' is unknown or not acknowledged", check);
		return 1;
	}
	return 0;
}

int aq_admin_silence(aq_store_t *s, const char *glob, int64_t duration_ms, const char *comment,
		     const char *by, FILE *out, char *err, size_t errlen)
{
	char duration[24];
	snprintf(duration, sizeof(duration), "%lld", (long long)duration_ms);
	const char *params[] = { glob, duration, comment ? comment : "", by && *by ? by : getenv("USER") };
	PGresult *res = query(
		s,
		"INSERT INTO alertq_silences (match, ends_at, comment, created_by)"
		" VALUES ($1, now() + $2::bigint * interval '1 millisecond', $3, coalesce($4, ''))"
		" RETURNING id, ends_at::timestamptz(0)",
		4, params, err, errlen);
	if (!res)
		return 1;
	fprintf(out, "silence %s: '%s' until %s\n", PQgetvalue(res, 0, 0), glob, PQgetvalue(res, 0, 1));
	PQclear(res);
	return 0;
}

int aq_admin_silences(aq_store_t *s, FILE *out, int json, char *err, size_t errlen)
{
	PGresult *res = query(
		s,
		"SELECT id, match, starts_at::timestamptz(0), ends_at::timestamptz(0), comment, created_by"
		" FROM alertq_silences WHERE ends_at > now() ORDER BY id",
		0, NULL, err, errlen);
	if (!res)
		return 1;
	if (json) {
		json_t *list = json_array();
		for (int i = 0; i < PQntuples(res); i++) {
			json_t *o = json_object();
			json_object_set_new(o, "id", json_integer(strtoll(PQgetvalue(res, i, 0), NULL, 10)));
			json_object_set_new(o, "match", json_string(PQgetvalue(res, i, 1)));
			json_object_set_new(o, "starts_at", json_string(PQgetvalue(res, i, 2)));
			json_object_set_new(o, "ends_at", json_string(PQgetvalue(res, i, 3)));
			json_object_set_new(o, "comment", json_string(PQgetvalue(res, i, 4)));
			json_object_set_new(o, "created_by", json_string(PQgetvalue(res, i, 5)));
			json_array_append_new(list, o);
		}
		json_dumpf(list, out, JSON_INDENT(2));
		fputc('\n', out);
		json_decref(list);
	} else {
		fprintf(out, "%-6s %-30s %-24s %-24s %s\n", "ID", "MATCH", "STARTS", "ENDS", "COMMENT");
		for (int i = 0; i < PQntuples(res); i++)
			fprintf(out, "%-6s %-30s %-24s %-24s %s\n", PQgetvalue(res, i, 0),
				PQgetvalue(res, i, 1), PQgetvalue(res, i, 2), PQgetvalue(res, i, 3),
				PQgetvalue(res, i, 4));
	}
	PQclear(res);
	return 0;
}

int aq_admin_unsilence(aq_store_t *s, const char *id, char *err, size_t errlen)
{
	char *end;
	strtoll(id, &end, 10);
	if (!*id || *end) {
		snprintf(err, errlen, "silence id '%s' is not a number", id);
		return 1;
	}
	const char *params[] = { id };
	int changed = update_rows(
		s, "UPDATE alertq_silences SET ends_at = now() WHERE id = $1::bigint AND ends_at > now()", 1,
		params, err, errlen);
	if (changed < 0)
		return 1;
	if (changed == 0) {
		snprintf(err, errlen, "no active silence %s", id);
		return 1;
	}
	return 0;
}
