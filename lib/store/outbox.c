/* outbox.c - the notification outbox: claiming what is due, recording each
 * attempt's outcome; and the checks due for time-driven work */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/utf8.h"
#include "store/store_internal.h"

#define CLAIM_SQL                                                                     \
	"SELECT id, payload, attempts, give_up_at <= now() FROM alertq_notifications" \
	" WHERE channel = $1 AND state = 'pending' AND next_attempt_at <= now()"      \
	" ORDER BY next_attempt_at, created_at LIMIT $2 FOR UPDATE SKIP LOCKED"

/* Takes the rows of CLAIM_SQL's result (cleared). Returns 0, or -1 with
 * err when out of memory. */
static int claim_take(PGresult *res, struct aq_outbox_row **rows, size_t *n, char *err, size_t errlen)
{
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

int aq_store_claim(aq_store_t *s, const char *channel, int max, struct aq_outbox_row **rows, size_t *n,
		   char *err, size_t errlen)
{
	char limit[16];
	snprintf(limit, sizeof(limit), "%d", max);
	const char *params[] = { channel, limit };
	*rows = NULL;
	*n = 0;
	PGresult *res = PQexecParams(s->conn, CLAIM_SQL, 2, NULL, params, NULL, NULL, 0);
	if (store_check_result(s, res, PGRES_TUPLES_OK, "claiming notifications", err, errlen) != 0)
		return -1;
	return claim_take(res, rows, n, err, errlen);
}

int aq_store_claim_begin(aq_store_t *s, const char *channel, int max, struct aq_outbox_row **rows, size_t *n,
			 char *err, size_t errlen)
{
	char limit[16];
	snprintf(limit, sizeof(limit), "%d", max);
	const char *params[] = { channel, limit };
	PGresult *claimed = NULL;
	struct store_step steps[] = {
		{ "BEGIN", 0, NULL, PGRES_COMMAND_OK, "BEGIN", NULL },
		{ "SET LOCAL synchronous_commit = off", 0, NULL, PGRES_COMMAND_OK,
		  "SET LOCAL synchronous_commit", NULL },
		{ CLAIM_SQL, 2, params, PGRES_TUPLES_OK, "claiming notifications", &claimed },
	};
	*rows = NULL;
	*n = 0;
	aq_store_failure_forget(s);
	if (store_pipeline(s, steps, sizeof(steps) / sizeof(steps[0]), err, errlen) != 0)
		return -1;
	return claim_take(claimed, rows, n, err, errlen);
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

#define MARK_SQL                                                                                     \
	"UPDATE alertq_notifications n SET attempts = n.attempts + 1, last_error = m.error,"         \
	" state = CASE WHEN m.outcome = 0 THEN 'sent' WHEN m.outcome = 2 THEN 'undeliverable'"       \
	"   WHEN now() + m.retry_ms * interval '1 millisecond' > n.give_up_at THEN 'undeliverable'"  \
	"   ELSE 'pending' END,"                                                                     \
	" sent_at = CASE WHEN m.outcome = 0 THEN now() END,"                                         \
	" next_attempt_at = now() + m.retry_ms * interval '1 millisecond'"                           \
	" FROM unnest($1::uuid[], $2::int[], $3::bigint[], $4::text[]) AS m(id, outcome, retry_ms, " \
	"error)"                                                                                     \
	" WHERE n.id = m.id"

/* The parameters of MARK_SQL for n marks: array literals. */
struct mark_params {
	struct aq_buf ids, outcomes, retries, texts;
	const char *values[4];
};

static void mark_params_release(struct mark_params *p)
{
	aq_buf_release(&p->ids);
	aq_buf_release(&p->outcomes);
	aq_buf_release(&p->retries);
	aq_buf_release(&p->texts);
}

/* Fills p for n marks; errors[i] (cleaned) stands for marks[i].error.
 * Returns 0, or -1 with err when out of memory (p released). */
static int mark_params_make(struct mark_params *p, const struct aq_mark *marks, char *const *errors, size_t n,
			    char *err, size_t errlen)
{
	char number[32];
	aq_buf_init(&p->ids, COPY_MAX);
	aq_buf_init(&p->outcomes, COPY_MAX);
	aq_buf_init(&p->retries, COPY_MAX);
	aq_buf_init(&p->texts, COPY_MAX);
	for (size_t i = 0; i < n; i++) {
		const char *sep = i ? "," : "{";
		/* a receiver's Retry-After must not push the time past what the
		 * database can hold: the statement would fail for every row */
		int64_t retry_ms = marks[i].retry_ms < 0             ? 0
			: marks[i].retry_ms > AQ_OUTBOX_RETRY_MAX_MS ? AQ_OUTBOX_RETRY_MAX_MS
								     : marks[i].retry_ms;
		aq_buf_add(&p->ids, sep, 1);
		aq_buf_add(&p->ids, marks[i].id, strlen(marks[i].id));
		aq_buf_add(&p->outcomes, sep, 1);
		aq_buf_add(&p->outcomes, number,
			   (size_t)snprintf(number, sizeof(number), "%d", marks[i].outcome));
		aq_buf_add(&p->retries, sep, 1);
		aq_buf_add(&p->retries, number,
			   (size_t)snprintf(number, sizeof(number), "%lld", (long long)retry_ms));
		aq_buf_add(&p->texts, sep, 1);
		array_text(&p->texts, errors[i]);
	}
	aq_buf_add(&p->ids, "}", 1);
	aq_buf_add(&p->outcomes, "}", 1);
	aq_buf_add(&p->retries, "}", 1);
	aq_buf_add(&p->texts, "}", 1);
	if (p->ids.failed || p->outcomes.failed || p->retries.failed || p->texts.failed) {
		mark_params_release(p);
		snprintf(err, errlen, "recording deliveries: out of memory");
		return -1;
	}
	p->values[0] = p->ids.data;
	p->values[1] = p->outcomes.data;
	p->values[2] = p->retries.data;
	p->values[3] = p->texts.data;
	return 0;
}

/* Records the outcomes of n marks in one statement; errors[i] (cleaned)
 * stands for marks[i].error. Returns 0 or -1 with the reason in err. */
static int mark_rows(aq_store_t *s, const struct aq_mark *marks, char *const *errors, size_t n, char *err,
		     size_t errlen)
{
	struct mark_params p;
	if (mark_params_make(&p, marks, errors, n, err, errlen) != 0)
		return -1;
	PGresult *res = PQexecParams(s->conn, MARK_SQL, 4, NULL, p.values, NULL, NULL, 0);
	int rc = store_check_result(s, res, PGRES_COMMAND_OK, "recording deliveries", err, errlen);
	if (rc == 0)
		PQclear(res);
	mark_params_release(&p);
	return rc;
}

/* Records one row's outcome under a savepoint of its own: as it is, else
 * with a plain reason that quotes the server's refusal. Returns 0, or -1
 * with the reason in err when even that was refused. */
static int mark_one(aq_store_t *s, const struct aq_mark *mark, char *error, char *err, size_t errlen)
{
	char refused[512];
	if (aq_store_exec(s, "SAVEPOINT alertq_mark_row", err, errlen) != 0)
		return -1;
	if (mark_rows(s, mark, &error, 1, refused, sizeof(refused)) == 0)
		return aq_store_exec(s, "RELEASE SAVEPOINT alertq_mark_row", err, errlen);
	if (aq_store_connection_lost(s)) {
		snprintf(err, errlen, "%s", refused);
		return -1;
	}
	if (aq_store_exec(s, "ROLLBACK TO SAVEPOINT alertq_mark_row", err, errlen) != 0)
		return -1;
	char reason[AQ_OUTBOX_ERROR_MAX + 1];
	char server[AQ_OUTBOX_ERROR_MAX / 2];
	aq_text_clean_into(server, sizeof(server), refused, strlen(refused), AQ_TEXT_SPACES);
	snprintf(reason, sizeof(reason), "outcome could not be recorded: %s", server);
	char *plain = reason;
	if (mark_rows(s, mark, &plain, 1, err, errlen) != 0)
		return -1;
	return aq_store_exec(s, "RELEASE SAVEPOINT alertq_mark_row", err, errlen);
}

/* Records every outcome in one statement under a savepoint, and with
 * commit the COMMIT, all in one round trip. Returns 1 when that worked, 0
 * when the statement was refused (the transaction is back at the savepoint,
 * not committed), -1 with err on any other failure. */
static int marks_at_once(aq_store_t *s, const struct aq_mark *marks, char *const *errors, size_t n,
			 int commit, char *err, size_t errlen)
{
	struct mark_params p;
	if (mark_params_make(&p, marks, errors, n, err, errlen) != 0)
		return -1;
	PGresult *committed = NULL;
	struct store_step steps[] = {
		{ "SAVEPOINT alertq_marks", 0, NULL, PGRES_COMMAND_OK, "SAVEPOINT", NULL },
		{ MARK_SQL, 4, p.values, PGRES_COMMAND_OK, "recording deliveries", NULL },
		{ "RELEASE SAVEPOINT alertq_marks", 0, NULL, PGRES_COMMAND_OK, "RELEASE SAVEPOINT", NULL },
		{ "COMMIT", 0, NULL, PGRES_COMMAND_OK, "COMMIT", &committed },
	};
	int rc = store_pipeline(s, steps, commit ? 4 : 3, err, errlen);
	mark_params_release(&p);
	if (rc == 0 && committed) {
		rc = store_committed(s, committed, err, errlen);
		PQclear(committed);
		return rc == 0 ? 1 : -1;
	}
	if (rc == 0)
		return 1;
	if (aq_store_connection_lost(s))
		return -1;
	/* the statement was refused (the server skipped what followed it) */
	char back[256];
	if (aq_store_exec(s, "ROLLBACK TO SAVEPOINT alertq_marks", back, sizeof(back)) != 0) {
		size_t len = strlen(err);
		if (len + 3 < errlen)
			snprintf(err + len, errlen - len, "; %s", back);
		return -1;
	}
	return 0;
}

/* aq_store_mark_many, and with commit the COMMIT. */
static int marks_record(aq_store_t *s, const struct aq_mark *marks, size_t n, int commit, char *err,
			size_t errlen)
{
	if (n == 0)
		return commit ? aq_store_commit(s, err, errlen) : 0;
	int rc = -1;
	char **errors = calloc(n, sizeof(*errors));
	if (!errors) {
		snprintf(err, errlen, "recording deliveries: out of memory");
		return -1;
	}
	/* a receiver's error is outside text: invalid bytes in it would make
	 * the statement fail, and the notification be sent again */
	for (size_t i = 0; i < n; i++) {
		if (!marks[i].error || !*marks[i].error)
			continue;
		errors[i] = aq_text_clean(marks[i].error, AQ_OUTBOX_ERROR_MAX, AQ_TEXT_SPACES);
		if (!errors[i]) {
			snprintf(err, errlen, "recording deliveries: out of memory");
			goto out;
		}
	}
	int done = marks_at_once(s, marks, errors, n, commit, err, errlen);
	if (done != 0) {
		rc = done > 0 ? 0 : -1;
		goto out;
	}
	/* refused as a whole: row by row, so that one bad row does not send
	 * the others again */
	for (size_t i = 0; i < n; i++)
		if (mark_one(s, &marks[i], errors[i], err, errlen) != 0)
			goto out;
	rc = aq_store_exec(s, "RELEASE SAVEPOINT alertq_marks", err, errlen);
	if (rc == 0 && commit)
		rc = aq_store_commit(s, err, errlen);
out:
	for (size_t i = 0; i < n; i++)
		free(errors[i]);
	free(errors);
	return rc;
}

int aq_store_mark_many(aq_store_t *s, const struct aq_mark *marks, size_t n, char *err, size_t errlen)
{
	return marks_record(s, marks, n, 0, err, errlen);
}

int aq_store_mark_commit(aq_store_t *s, const struct aq_mark *marks, size_t n, char *err, size_t errlen)
{
	return marks_record(s, marks, n, 1, err, errlen);
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
		" OR (expires_at_ms > 0 AND expires_at_ms <= $1::bigint) OR (suppressed AND inhibited_by IS "
		"NULL)"
		/* inhibited: due when back at OK owing nothing, or when the
		 * source's row changed since it was decided (not every tick) */
		" OR (inhibited_by IS NOT NULL AND ((severity = 'OK' AND NOT suppressed) OR NOT EXISTS"
		" (SELECT 1 FROM alertq_checks s WHERE s.check_name = alertq_checks.inhibited_by"
		" AND s.updated_at = alertq_checks.inhibited_seen))) ORDER BY check_name "
		"LIMIT $2 FOR UPDATE SKIP LOCKED",
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
