/* outbox.c - the notification outbox: claiming what is due, recording each
 * attempt's outcome; and the checks due for time-driven work */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "store/store_internal.h"

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
	if (store_check_result(s, res, PGRES_TUPLES_OK, "claiming notifications", err, errlen) != 0)
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
	if (store_check_result(s, res, PGRES_COMMAND_OK, "recording deliveries", err, errlen) != 0)
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
	if (store_check_result(s, res, PGRES_TUPLES_OK, "finding due checks", err, errlen) != 0)
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
