/* admin.c - what the alertq command shows and changes: status, history,
 * acknowledgements, silences */
#include "alertq/admin.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "base/terminal.h"

/* Room for outside text shown on a terminal: an escaped byte takes four. */
#define SHOWN_NAME_MAX (4 * AQ_CHECK_NAME_MAX + 1)
#define SHOWN_TEXT_MAX (4 * 4096 + 1)

/* How many undeliverable notifications the status shows, newest first. */
#define UNDELIVERABLE_SHOWN 50

static void format_ms(int64_t ms, char *buf, size_t len)
{
	if (ms <= 0)
		snprintf(buf, len, "-");
	else
		aq_format_time(ms, buf, len);
}

static json_t *time_json(int64_t ms)
{
	char buf[40];
	if (ms <= 0)
		return json_null();
	aq_format_time(ms, buf, sizeof(buf));
	return json_string(buf);
}

static int64_t int_of(json_t *o, const char *key)
{
	return (int64_t)json_integer_value(json_object_get(o, key));
}

static const char *text_of(json_t *o, const char *key)
{
	const char *text = json_string_value(json_object_get(o, key));
	return text ? text : "";
}

/* " (stale)" or " (expired)" after a transition the clock made. */
static const char *cause_note(const char *cause)
{
	if (strcmp(cause, "stale") == 0)
		return " (stale)";
	if (strcmp(cause, "expired") == 0)
		return " (expired)";
	return "";
}

/* " (flapping started)", " (flapping stopped)" or " (flapping)" after a
 * transition by what history says of flapping at it. */
static const char *flapping_note(const char *flapping)
{
	if (strcmp(flapping, "started") == 0)
		return " (flapping started)";
	if (strcmp(flapping, "stopped") == 0)
		return " (flapping stopped)";
	if (strcmp(flapping, "flapping") == 0)
		return " (flapping)";
	return "";
}

/* The string at key, escaped for a terminal into buf. */
static const char *shown(char *buf, size_t len, json_t *o, const char *key)
{
	return aq_terminal_text(buf, len, text_of(o, key));
}

/* Copies key of from into to (the same value, shared). */
static void copy_key(json_t *to, json_t *from, const char *key)
{
	json_object_set(to, key, json_object_get(from, key));
}

json_t *aq_admin_status_json(aq_store_t *s, char *err, size_t errlen)
{
	return aq_admin_status_json_of(s, AQ_STATUS_ALL, NULL, err, errlen);
}

json_t *aq_admin_status_json_of(aq_store_t *s, enum aq_status_scope scope, const char *check, char *err,
				size_t errlen)
{
	json_t *checks;
	if (aq_store_status_of(s, scope, check, &checks, err, errlen) != 0)
		return NULL;
	json_t *list = json_array();
	size_t i;
	json_t *c;
	json_array_foreach(checks, i, c)
	{
		json_t *o = json_object();
		int64_t level = int_of(c, "escalation_level");
		copy_key(o, c, "check");
		copy_key(o, c, "severity");
		copy_key(o, c, "previous_severity");
		json_object_set_new(o, "since", time_json(int_of(c, "since_ms")));
		copy_key(o, c, "value");
		json_object_set_new(o, "last_seen", time_json(int_of(c, "last_seen_ms")));
		copy_key(o, c, "acked");
		copy_key(o, c, "acked_by");
		copy_key(o, c, "silenced");
		json_object_set_new(o, "escalation_level", level >= 0 ? json_integer(level) : json_null());
		copy_key(o, c, "message");
		copy_key(o, c, "labels");
		copy_key(o, c, "stale");
		copy_key(o, c, "undeliverable");
		copy_key(o, c, "pending_notifications");
		copy_key(o, c, "annotations");
		copy_key(o, c, "flapping");
		/* inhibition: null, or the source check */
		copy_key(o, c, "inhibited_by");
		json_array_append_new(list, o);
	}
	json_decref(checks);
	return list;
}

int aq_admin_check_json(aq_store_t *s, const char *check, json_t **object, char *err, size_t errlen)
{
	*object = NULL;
	json_t *checks = aq_admin_status_json_of(s, AQ_STATUS_ONE, check, err, errlen);
	if (!checks)
		return -1;
	json_t *found = json_array_get(checks, 0);
	*object = found ? json_incref(found) : NULL;
	json_decref(checks);
	return 0;
}

int aq_admin_status(aq_store_t *s, FILE *out, int json, char *err, size_t errlen)
{
	if (json) {
		json_t *list = aq_admin_status_json(s, err, errlen);
		if (!list)
			return -1;
		json_dumpf(list, out, JSON_INDENT(2));
		fputc('\n', out);
		json_decref(list);
		return 0;
	}
	json_t *checks;
	if (aq_store_status(s, &checks, err, errlen) != 0)
		return -1;
	size_t i;
	json_t *c;
	fprintf(out, "%-36s %-9s %-24s %-14s %-24s %-4s %-8s %s\n", "CHECK", "SEVERITY", "SINCE", "VALUE",
		"LAST SEEN", "ACK", "SILENCED", "LEVEL");
	json_array_foreach(checks, i, c)
	{
		char since[40], seen[40], value[32], level_text[16];
		format_ms(int_of(c, "since_ms"), since, sizeof(since));
		format_ms(int_of(c, "last_seen_ms"), seen, sizeof(seen));
		json_t *v = json_object_get(c, "value");
		if (json_is_number(v))
			snprintf(value, sizeof(value), "%g", json_number_value(v));
		else
			snprintf(value, sizeof(value), "-");
		int64_t level = int_of(c, "escalation_level");
		if (level >= 0)
			snprintf(level_text, sizeof(level_text), "%lld", (long long)level);
		else
			snprintf(level_text, sizeof(level_text), "-");
		char name[SHOWN_NAME_MAX];
		fprintf(out, "%-36s %-9s %-24s %-14s %-24s %-4s %-8s %s%s%s",
			shown(name, sizeof(name), c, "check"), text_of(c, "severity"), since, value, seen,
			json_is_true(json_object_get(c, "acked")) ? "yes" : "no",
			json_is_true(json_object_get(c, "silenced")) ? "yes" : "no", level_text,
			json_is_true(json_object_get(c, "stale")) ? " (stale)" : "",
			json_is_true(json_object_get(c, "flapping")) ? " (flapping)" : "");
		/* inhibition */
		if (json_is_string(json_object_get(c, "inhibited_by"))) {
			char source[SHOWN_NAME_MAX];
			fprintf(out, " inhibited by %s", shown(source, sizeof(source), c, "inhibited_by"));
		}
		fputc('\n', out);
	}
	if (json_array_size(checks) == 0)
		fprintf(out, "(no checks reported yet)\n");
	json_decref(checks);

	json_t *undeliverable;
	if (aq_store_undeliverable(s, UNDELIVERABLE_SHOWN, &undeliverable, err, errlen) != 0)
		return -1;
	if (json_array_size(undeliverable) > 0) {
		fprintf(out, "\nUNDELIVERABLE NOTIFICATIONS (newest first)\n");
		json_t *n;
		json_array_foreach(undeliverable, i, n)
		{
			char name[SHOWN_NAME_MAX], error[SHOWN_TEXT_MAX];
			fprintf(out, "  %s  %s -> %s after %lld attempt(s): %s\n", text_of(n, "created_at"),
				shown(name, sizeof(name), n, "check"), text_of(n, "channel"),
				(long long)int_of(n, "attempts"),
				shown(error, sizeof(error), n, "last_error"));
		}
	}
	json_decref(undeliverable);
	struct aq_store_totals totals;
	if (aq_store_totals(s, &totals, err, errlen) != 0)
		return -1;
	fprintf(out, "\nnotifications pending: %lld, undeliverable: %lld; dead letters: %lld\n",
		(long long)totals.pending, (long long)totals.undeliverable, (long long)totals.dead_letters);
	if (totals.checks_refused > 0)
		fprintf(out,
			"NEW CHECKS REFUSED: %lld result(s) of checks new to a full state were dead-lettered"
			" (state.max_checks)\n",
			(long long)totals.checks_refused);
	return 0;
}

/* One line of history for a notification object built by aq_admin_history;
 * when is printed first when given. */
static void print_notification(FILE *out, json_t *n, const char *when)
{
	json_t *last_error = json_object_get(n, "last_error");
	char error[SHOWN_TEXT_MAX];
	aq_terminal_text(error, sizeof(error), json_string_value(last_error));
	/* grouped delivery: the text says what became of it, not what went wrong */
	const char *delivery = json_string_value(json_object_get(n, "delivery"));
	int noted = delivery &&
		(strcmp(delivery, "grouping") == 0 || strcmp(delivery, "grouped") == 0 ||
		 strcmp(delivery, "collapsed") == 0 || strcmp(delivery, "inhibited") == 0);
	fprintf(out, "    %s%s%-20s %-8s level %lld  %-13s %lld attempt(s)%s%s\n", when ? when : "",
		when ? "  " : "", json_string_value(json_object_get(n, "channel")),
		json_string_value(json_object_get(n, "status")),
		(long long)json_integer_value(json_object_get(n, "escalation_level")),
		json_string_value(json_object_get(n, "delivery")),
		(long long)json_integer_value(json_object_get(n, "attempts")),
		json_is_string(last_error) ? (noted ? "  " : "  last error: ") : "",
		json_is_string(last_error) ? error : "");
}

/* The annotations of a transition, one "    key: value" line each. */
static void print_annotations(FILE *out, json_t *annotations)
{
	const char *key;
	json_t *value;
	json_object_foreach(annotations, key, value)
	{
		char k[SHOWN_NAME_MAX], v[SHOWN_TEXT_MAX];
		fprintf(out, "    %s: %s\n", aq_terminal_text(k, sizeof(k), key),
			aq_terminal_text(v, sizeof(v), json_string_value(value)));
	}
}

json_t *aq_admin_history_json(aq_store_t *s, const char *check, int *found, char *err, size_t errlen)
{
	json_t *rows_tr, *rows_nt;
	*found = 0;
	int rc = aq_store_history(s, check, &rows_tr, &rows_nt, err, errlen);
	if (rc < 0)
		return NULL;
	if (rc == 1) {
		char name[SHOWN_NAME_MAX];
		snprintf(err, errlen, "no such check '%s'", aq_terminal_text(name, sizeof(name), check));
		return NULL;
	}
	*found = 1;
	json_t *doc = json_object();
	json_t *transitions = json_array();
	json_t *escalations = json_array();
	json_object_set_new(doc, "check", json_string(check));
	size_t i;
	json_t *row;
	json_array_foreach(rows_tr, i, row)
	{
		json_t *t = json_object();
		copy_key(t, row, "from");
		copy_key(t, row, "to");
		copy_key(t, row, "value");
		copy_key(t, row, "message");
		json_object_set_new(t, "observed_at", time_json(int_of(row, "observed_at_ms")));
		copy_key(t, row, "event_id");
		copy_key(t, row, "cause");
		copy_key(t, row, "recorded_at");
		copy_key(t, row, "annotations");
		json_object_set_new(t, "notifications", json_array());
		copy_key(t, row, "ref");
		copy_key(t, row, "flapping");
		json_array_append_new(transitions, t);
	}
	json_array_foreach(rows_nt, i, row)
	{
		json_t *n = json_object();
		copy_key(n, row, "notification_id");
		copy_key(n, row, "channel");
		copy_key(n, row, "escalation_level");
		json_object_set_new(
			n, "status",
			json_string(json_is_true(json_object_get(row, "resolved")) ? "resolved"
					    : json_is_true(json_object_get(row, "flapping_started"))
					    ? "flapping"
					    : "firing"));
		copy_key(n, row, "delivery");
		copy_key(n, row, "attempts");
		copy_key(n, row, "last_error");
		copy_key(n, row, "created_at");
		copy_key(n, row, "sent_at");
		copy_key(n, row, "flapping");
		const char *ref = text_of(row, "transition_ref");
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
	json_decref(rows_tr);
	json_decref(rows_nt);
	return doc;
}

int aq_admin_history(aq_store_t *s, const char *check, FILE *out, int json, char *err, size_t errlen)
{
	int found;
	json_t *doc = aq_admin_history_json(s, check, &found, err, errlen);
	if (!doc)
		return -1;
	json_t *transitions = json_object_get(doc, "transitions");
	json_t *escalations = json_object_get(doc, "escalations");
	if (json) {
		json_dumpf(doc, out, JSON_INDENT(2));
		fputc('\n', out);
		json_decref(doc);
		return 0;
	}
	char name[SHOWN_NAME_MAX];
	fprintf(out, "history of %s\n", aq_terminal_text(name, sizeof(name), check));
	size_t k;
	json_t *t;
	json_array_foreach(transitions, k, t)
	{
		json_t *value = json_object_get(t, "value");
		char value_text[32] = "-";
		char message[SHOWN_TEXT_MAX];
		if (json_is_number(value))
			snprintf(value_text, sizeof(value_text), "%g", json_number_value(value));
		fprintf(out, "%s  %-8s -> %-8s value %-12s %s%s%s\n",
			json_is_string(json_object_get(t, "observed_at"))
				? json_string_value(json_object_get(t, "observed_at"))
				: "-",
			json_string_value(json_object_get(t, "from")),
			json_string_value(json_object_get(t, "to")), value_text,
			shown(message, sizeof(message), t, "message"),
			strcmp(text_of(t, "cause"), "result") != 0 ? cause_note(text_of(t, "cause")) : "",
			flapping_note(text_of(t, "flapping")));
		print_annotations(out, json_object_get(t, "annotations"));
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

int aq_admin_ack(aq_store_t *s, const char *check, const char *by, const char *comment, char *err,
		 size_t errlen)
{
	int changed;
	if (aq_store_ack(s, check, by && *by ? by : getenv("USER"), comment, &changed, err, errlen) != 0)
		return -1;
	if (changed == 0) {
		snprintf(err, errlen, "check '%s' is unknown or not firing", check);
		return -1;
	}
	return 0;
}

int aq_admin_unack(aq_store_t *s, const char *check, char *err, size_t errlen)
{
	int changed;
	if (aq_store_unack(s, check, aq_now_ms(), &changed, err, errlen) != 0)
		return -1;
	if (changed == 0) {
		snprintf(err, errlen, "check '%s' is unknown or not acknowledged", check);
		return -1;
	}
	return 0;
}

int aq_admin_silence(aq_store_t *s, const char *glob, int64_t duration_ms, const char *comment,
		     const char *by, FILE *out, char *err, size_t errlen)
{
	int64_t id;
	char ends_at[AQ_STORE_TIME_MAX];
	if (aq_store_silence_add(s, glob, duration_ms, comment, by && *by ? by : getenv("USER"), &id, ends_at,
				 err, errlen) != 0)
		return -1;
	fprintf(out, "silence %lld: '%s' until %s\n", (long long)id, glob, ends_at);
	return 0;
}

int aq_admin_silences(aq_store_t *s, FILE *out, int json, char *err, size_t errlen)
{
	json_t *list;
	if (aq_store_silences(s, &list, err, errlen) != 0)
		return -1;
	if (json) {
		json_dumpf(list, out, JSON_INDENT(2));
		fputc('\n', out);
	} else {
		fprintf(out, "%-6s %-30s %-24s %-24s %s\n", "ID", "MATCH", "STARTS", "ENDS", "COMMENT");
		size_t i;
		json_t *o;
		json_array_foreach(list, i, o)
		{
			char id[24];
			snprintf(id, sizeof(id), "%lld", (long long)int_of(o, "id"));
			char match[SHOWN_NAME_MAX], comment[SHOWN_TEXT_MAX];
			fprintf(out, "%-6s %-30s %-24s %-24s %s\n", id,
				shown(match, sizeof(match), o, "match"), text_of(o, "starts_at"),
				text_of(o, "ends_at"), shown(comment, sizeof(comment), o, "comment"));
		}
	}
	json_decref(list);
	return 0;
}

int aq_admin_unsilence(aq_store_t *s, const char *id, char *err, size_t errlen)
{
	char *end;
	errno = 0;
	long long number = strtoll(id, &end, 10);
	if (!*id || *end || errno == ERANGE) {
		snprintf(err, errlen, "silence id '%s' is not a number", id);
		return -1;
	}
	int changed;
	if (aq_store_unsilence(s, (int64_t)number, &changed, err, errlen) != 0)
		return -1;
	if (changed == 0) {
		snprintf(err, errlen, "no active silence %s", id);
		return -1;
	}
	return 0;
}
