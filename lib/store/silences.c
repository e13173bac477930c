/* silences.c - which checks a silence covers now, read from the database at
 * most once a second, or with a batch's other reads (store_silences_take) */
#include <fnmatch.h>
#include <stdlib.h>

#include "store/store_internal.h"

void store_silences_clear(aq_store_t *s)
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

void store_silences_take(aq_store_t *s, PGresult *res)
{
	store_silences_clear(s);
	int rows = PQntuples(res);
	if (rows > 0)
		s->silences = calloc((size_t)rows, sizeof(*s->silences));
	for (int row = 0; s->silences && row < rows; row++) {
		s->silences[row].match = aq_strdup(PQgetvalue(res, row, 0));
		s->silences[row].starts_ms = strtoll(PQgetvalue(res, row, 1), NULL, 10);
		s->silences[row].ends_ms = strtoll(PQgetvalue(res, row, 2), NULL, 10);
		s->nsilences++;
	}
	s->silences_read_ms = aq_monotonic_ms();
}

/* Reads silences that have not ended; keeps the old list when that fails. */
static void silences_read(aq_store_t *s)
{
	PGresult *res = PQexec(s->conn, SILENCES_SQL);
	if (PQresultStatus(res) == PGRES_TUPLES_OK)
		store_silences_take(s, res);
	PQclear(res);
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
