/* metrics.c - the counts GET /metrics shows, read from the state database:
 * checks by severity, the outbox by channel, dead letters, stored offsets */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alertq/event.h"
#include "alertq/util.h"
#include "store/store_internal.h"

static PGresult *rows(aq_store_t *s, const char *sql, int nparams, const char *const *params,
		      const char *what, char *err, size_t errlen)
{
	PGresult *res = PQexecParams(s->conn, sql, nparams, NULL, params, NULL, NULL, 0);
	if (store_check_result(s, res, PGRES_TUPLES_OK, what, err, errlen) != 0)
		return NULL;
	return res;
}

static int64_t int_at(PGresult *res, int row, int col)
{
	return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

static int read_checks(aq_store_t *s, struct aq_store_metrics *m, char *err, size_t errlen)
{
	PGresult *res = rows(s, "SELECT severity, count(*) FROM alertq_checks GROUP BY severity", 0, NULL,
			     "counting checks", err, errlen);
	if (!res)
		return -1;
	for (int i = 0; i < PQntuples(res); i++) {
		int severity = aq_status_parse(PQgetvalue(res, i, 0));
		if (severity >= AQ_OK && severity <= AQ_UNKNOWN)
			m->checks[severity] += int_at(res, i, 1);
	}
	PQclear(res);
	return 0;
}

static int read_channels(aq_store_t *s, struct aq_store_metrics *m, char *err, size_t errlen)
{
	PGresult *res = rows(s,
			     "SELECT channel, count(*) FILTER (WHERE state = 'pending'),"
			     " COALESCE(floor(extract(epoch FROM clock_timestamp() -"
			     "   min(created_at) FILTER (WHERE state = 'pending')))::bigint, 0),"
			     " count(*) FILTER (WHERE state = 'sent'),"
			     " count(*) FILTER (WHERE state = 'undeliverable')"
			     " FROM alertq_notifications GROUP BY channel ORDER BY channel COLLATE \"C\"",
			     0, NULL, "counting notifications", err, errlen);
	if (!res)
		return -1;
	int n = PQntuples(res);
	if (n > 0) {
		m->channels = calloc((size_t)n, sizeof(*m->channels));
		if (!m->channels) {
			PQclear(res);
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	}
	for (int i = 0; i < n; i++) {
		struct aq_store_channel_metrics *c = &m->channels[m->nchannels];
		c->channel = strdup(PQgetvalue(res, i, 0));
		if (!c->channel) {
			PQclear(res);
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		c->pending = int_at(res, i, 1);
		c->oldest_pending_s = int_at(res, i, 2);
		if (c->oldest_pending_s < 0)
			c->oldest_pending_s = 0; /* created "after" now: the clocks of two servers */
		c->sent = int_at(res, i, 3);
		c->undeliverable = int_at(res, i, 4);
		m->nchannels++;
	}
	PQclear(res);
	return 0;
}

static int read_offsets(aq_store_t *s, const char *topic, struct aq_store_metrics *m, char *err,
			size_t errlen)
{
	const char *params[] = { topic };
	PGresult *res = rows(
		s, "SELECT partition, next_offset FROM alertq_offsets WHERE topic = $1 ORDER BY partition", 1,
		params, "reading stored offsets", err, errlen);
	if (!res)
		return -1;
	int n = PQntuples(res);
	if (n > 0) {
		m->offsets = calloc((size_t)n, sizeof(*m->offsets));
		if (!m->offsets) {
			PQclear(res);
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	}
	for (int i = 0; i < n; i++) {
		m->offsets[i].partition = (int32_t)int_at(res, i, 0);
		m->offsets[i].next_offset = int_at(res, i, 1);
	}
	m->noffsets = (size_t)n;
	PQclear(res);
	return 0;
}

int aq_store_metrics(aq_store_t *s, const char *topic, struct aq_store_metrics *m, char *err, size_t errlen)
{
	memset(m, 0, sizeof(*m));
	if (read_checks(s, m, err, errlen) != 0 || read_channels(s, m, err, errlen) != 0)
		return -1;
	PGresult *res = rows(s, "SELECT count(*) FROM alertq_dead_letters", 0, NULL, "counting dead letters",
			     err, errlen);
	if (!res)
		return -1;
	m->dead_letters = int_at(res, 0, 0);
	PQclear(res);
	if (topic && read_offsets(s, topic, m, err, errlen) != 0)
		return -1;
	return 0;
}

void aq_store_metrics_release(struct aq_store_metrics *m)
{
	for (size_t i = 0; i < m->nchannels; i++)
		free(m->channels[i].channel);
	free(m->channels);
	free(m->offsets);
	memset(m, 0, sizeof(*m));
}
