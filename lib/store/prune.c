/* prune.c - growth kept bounded: old history and delivered notifications
 * deleted in small batches, and the count of known checks for a cap */
#include <stdio.h>
#include <stdlib.h>

#include "store/store_internal.h"

/* Runs a DELETE with the age cutoff and a row limit; adds the rows it
 * deleted to *deleted. Returns 0 or -1. */
static int delete_some(aq_store_t *s, const char *sql, int64_t older_than_ms, int limit, int *deleted,
		       const char *what, char *err, size_t errlen)
{
	char age[24];
	char rows[16];
	snprintf(age, sizeof(age), "%lld", (long long)older_than_ms);
	snprintf(rows, sizeof(rows), "%d", limit);
	const char *params[] = { age, rows };
	PGresult *res = PQexecParams(s->conn, sql, 2, NULL, params, NULL, NULL, 0);
	if (store_check_result(s, res, PGRES_COMMAND_OK, what, err, errlen) != 0)
		return -1;
	*deleted += atoi(PQcmdTuples(res));
	PQclear(res);
	return 0;
}

int aq_store_prune(aq_store_t *s, int64_t older_than_ms, int max_rows, int *deleted, char *err, size_t errlen)
{
	*deleted = 0;
	if (older_than_ms < 0 || max_rows <= 0) {
		snprintf(err, errlen, "pruning: age %lld ms and batch %d must not be negative",
			 (long long)older_than_ms, max_rows);
		return -1;
	}
	/* the last transition of a firing check says why it fires: kept */
	if (delete_some(s,
			"DELETE FROM alertq_transitions WHERE id IN (SELECT t.id FROM alertq_transitions t"
			" WHERE t.recorded_at < now() - $1::bigint * interval '1 millisecond'"
			" AND NOT EXISTS (SELECT 1 FROM alertq_checks c WHERE c.check_name = t.check_name"
			"  AND c.severity <> 'OK' AND t.id = (SELECT max(l.id) FROM alertq_transitions l"
			"  WHERE l.check_name = t.check_name))"
			" ORDER BY t.recorded_at LIMIT $2::int)",
			older_than_ms, max_rows, deleted, "pruning transitions", err, errlen) != 0)
		return -1;
	if (*deleted >= max_rows)
		return 0;
	/* pending ones are work still to do: never deleted */
	return delete_some(
		s,
		"DELETE FROM alertq_notifications WHERE id IN (SELECT id FROM alertq_notifications"
		" WHERE state IN ('sent', 'undeliverable', 'grouped', 'collapsed', 'inhibited')"
		" AND created_at < now() - $1::bigint * interval '1 millisecond'"
		" AND coalesce(sent_at, created_at) < now() - $1::bigint * interval '1 millisecond'"
		" LIMIT $2::int)",
		older_than_ms, max_rows - *deleted, deleted, "pruning notifications", err, errlen);
}

int aq_store_count_checks(aq_store_t *s, int64_t *count, char *err, size_t errlen)
{
	*count = 0;
	PGresult *res = PQexec(s->conn, "SELECT count(*) FROM alertq_checks");
	if (store_check_result(s, res, PGRES_TUPLES_OK, "counting checks", err, errlen) != 0)
		return -1;
	*count = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return 0;
}
