/* groups.c - grouped delivery in the state database: notifications joining
 * their group with its timers, due groups claimed, and a flush recorded */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

/* Runs sql with params; 0, or -1 with err saying what failed. */
static int run(aq_store_t *s, const char *sql, int nparams, const char *const *params, const char *what,
	       char *err, size_t errlen)
{
	PGresult *res = PQexecParams(s->conn, sql, nparams, NULL, params, NULL, NULL, 0);
	ExecStatusType want = PQresultStatus(res) == PGRES_TUPLES_OK ? PGRES_TUPLES_OK : PGRES_COMMAND_OK;
	if (store_check_result(s, res, want, what, err, errlen) != 0)
		return -1;
	PQclear(res);
	return 0;
}

/* Runs a query with params; its rows, or NULL with err set. */
static PGresult *rows_of(aq_store_t *s, const char *sql, int nparams, const char *const *params,
			 const char *what, char *err, size_t errlen)
{
	PGresult *res = PQexecParams(s->conn, sql, nparams, NULL, params, NULL, NULL, 0);
	if (store_check_result(s, res, PGRES_TUPLES_OK, what, err, errlen) != 0)
		return NULL;
	return res;
}

/* The members of a batch ($1, a JSON array of aq_writes_group_member's rows). */
#define MEMBERS                                                                                        \
	" FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS e(doc, ord), jsonb_to_record(e.doc)" \
	" AS x(channel text, group_key text, labels text, check_name text, transition_ref uuid,"       \
	" notification_id uuid, level int, resolved boolean, payload text, wait_ms bigint,"            \
	" interval_ms bigint)"

json_t *store_group_member_row(const struct aq_group_member_in *m)
{
	json_t *ref = m->transition_ref && *m->transition_ref ? json_string(m->transition_ref) : json_null();
	return json_pack("{s:s, s:s, s:s, s:s, s:o, s:s, s:i, s:b, s:s, s:I, s:I}", "channel", m->channel,
			 "group_key", m->group_key, "labels", m->group_labels, "check_name", m->check,
			 "transition_ref", ref, "notification_id", m->id, "level", m->level, "resolved",
			 m->resolved, "payload", m->payload, "wait_ms", (json_int_t)m->group_wait_ms,
			 "interval_ms", (json_int_t)m->group_interval_ms);
}

int aq_store_write_group_members(aq_store_t *s, json_t *rows, char *err, size_t errlen)
{
	if (json_array_size(rows) == 0)
		return 0;
	char *text = json_dumps(rows, JSON_COMPACT | JSON_ENSURE_ASCII);
	if (!text) {
		snprintf(err, errlen, "saving grouped notifications: out of memory");
		return -1;
	}
	const char *params[] = { text };
	const char *what = "saving grouped notifications";
	/* the groups first, in one order: their row locks keep a flush of the
	 * same group out until this transaction ends, and the order keeps two
	 * batches from waiting on each other */
	int rc = run(s,
		     "INSERT INTO alertq_groups (channel, group_key, labels)"
		     " SELECT DISTINCT ON (channel, group_key) channel, group_key, labels" MEMBERS
		     " ORDER BY channel, group_key"
		     " ON CONFLICT (channel, group_key) DO UPDATE SET labels = alertq_groups.labels",
		     1, params, what, err, errlen);
	if (rc == 0)
		rc = run(s,
			 "INSERT INTO alertq_group_members (channel, group_key, check_name, transition_ref,"
			 " notification_id, level, resolved, payload)"
			 " SELECT channel, group_key, check_name, transition_ref, notification_id, level,"
			 " resolved, payload" MEMBERS " ORDER BY ord",
			 1, params, what, err, errlen);
	if (rc == 0)
		rc = run(
			s,
			"INSERT INTO alertq_group_alerts (channel, group_key, check_name, firing)"
			" SELECT DISTINCT ON (channel, group_key, check_name) channel, group_key, check_name,"
			" NOT resolved" MEMBERS " ORDER BY channel, group_key, check_name, ord DESC"
			" ON CONFLICT (channel, group_key, check_name) DO UPDATE SET firing = "
			"EXCLUDED.firing",
			1, params, what, err, errlen);
	/* a group none of whose alerts fires any more goes out at once; a new
	 * one waits group_wait, one that has sent waits for group_interval */
	if (rc == 0)
		rc = run(
			s,
			"UPDATE alertq_groups g SET next_flush_at = CASE"
			" WHEN NOT EXISTS (SELECT 1 FROM alertq_group_alerts a WHERE a.channel = g.channel"
			"   AND a.group_key = g.group_key AND a.firing) THEN now()"
			" WHEN g.next_flush_at IS NOT NULL THEN g.next_flush_at"
			" WHEN g.last_sent_at IS NULL THEN now() + d.wait_ms * interval '1 millisecond'"
			" ELSE greatest(now(), g.last_sent_at + d.interval_ms * interval '1 millisecond') END"
			" FROM (SELECT channel, group_key, max(wait_ms) AS wait_ms, max(interval_ms) AS "
			"interval_ms" MEMBERS " GROUP BY channel, group_key) d"
			" WHERE g.channel = d.channel AND g.group_key = d.group_key",
			1, params, what, err, errlen);
	free(text);
	return rc;
}

int aq_store_due_groups(aq_store_t *s, const char *channel, int max, struct aq_group_row **groups, size_t *n,
			char *err, size_t errlen)
{
	char limit[16];
	snprintf(limit, sizeof(limit), "%d", max);
	const char *params[] = { channel, limit };
	*groups = NULL;
	*n = 0;
	PGresult *res = rows_of(s,
				"SELECT group_key, labels FROM alertq_groups WHERE channel = $1"
				" AND next_flush_at <= now() ORDER BY next_flush_at LIMIT $2"
				" FOR UPDATE SKIP LOCKED",
				2, params, "claiming due groups", err, errlen);
	if (!res)
		return -1;
	int count = PQntuples(res);
	*groups = calloc(count ? (size_t)count : 1, sizeof(**groups));
	if (!*groups) {
		PQclear(res);
		snprintf(err, errlen, "claiming due groups: out of memory");
		return -1;
	}
	for (int i = 0; i < count; i++) {
		(*groups)[i].key = aq_strdup(PQgetvalue(res, i, 0));
		(*groups)[i].labels = aq_strdup(PQgetvalue(res, i, 1));
	}
	*n = (size_t)count;
	PQclear(res);
	return 0;
}

void aq_group_rows_free(struct aq_group_row *groups, size_t n)
{
	for (size_t i = 0; groups && i < n; i++) {
		free(groups[i].key);
		free(groups[i].labels);
	}
	free(groups);
}

int aq_store_group_read(aq_store_t *s, const char *channel, const char *key, struct aq_group_content *c,
			char *err, size_t errlen)
{
	const char *params[] = { channel, key };
	memset(c, 0, sizeof(*c));
	PGresult *m = rows_of(s,
			      "SELECT id, check_name, coalesce(transition_ref::text, ''), notification_id,"
			      " level, resolved, payload FROM alertq_group_members"
			      " WHERE channel = $1 AND group_key = $2 ORDER BY id",
			      2, params, "reading a group", err, errlen);
	if (!m)
		return -1;
	PGresult *a = rows_of(s,
			      "SELECT check_name, firing, told FROM alertq_group_alerts"
			      " WHERE channel = $1 AND group_key = $2 ORDER BY check_name",
			      2, params, "reading a group", err, errlen);
	if (!a) {
		PQclear(m);
		return -1;
	}
	size_t nm = (size_t)PQntuples(m), na = (size_t)PQntuples(a);
	c->members = calloc(nm ? nm : 1, sizeof(*c->members));
	c->alerts = calloc(na ? na : 1, sizeof(*c->alerts));
	if (!c->members || !c->alerts) {
		PQclear(m);
		PQclear(a);
		aq_group_content_release(c);
		snprintf(err, errlen, "reading a group: out of memory");
		return -1;
	}
	for (size_t i = 0; i < nm; i++) {
		struct aq_group_member_row *r = &c->members[i];
		r->id = strtoll(PQgetvalue(m, (int)i, 0), NULL, 10);
		r->check = aq_strdup(PQgetvalue(m, (int)i, 1));
		snprintf(r->transition_ref, sizeof(r->transition_ref), "%s", PQgetvalue(m, (int)i, 2));
		snprintf(r->notification_id, sizeof(r->notification_id), "%s", PQgetvalue(m, (int)i, 3));
		r->level = atoi(PQgetvalue(m, (int)i, 4));
		r->resolved = PQgetvalue(m, (int)i, 5)[0] == 't';
		r->payload = aq_strdup(PQgetvalue(m, (int)i, 6));
	}
	c->nmembers = nm;
	for (size_t i = 0; i < na; i++) {
		c->alerts[i].check = aq_strdup(PQgetvalue(a, (int)i, 0));
		c->alerts[i].firing = PQgetvalue(a, (int)i, 1)[0] == 't';
		c->alerts[i].told = PQgetvalue(a, (int)i, 2)[0] == 't';
	}
	c->nalerts = na;
	PQclear(m);
	PQclear(a);
	return 0;
}

void aq_group_content_release(struct aq_group_content *c)
{
	for (size_t i = 0; c->members && i < c->nmembers; i++) {
		free(c->members[i].check);
		free(c->members[i].payload);
	}
	for (size_t i = 0; c->alerts && i < c->nalerts; i++)
		free(c->alerts[i].check);
	free(c->members);
	free(c->alerts);
	memset(c, 0, sizeof(*c));
}

int aq_store_group_flushed(aq_store_t *s, const char *channel, const char *key,
			   const struct aq_group_flushed *f, char *err, size_t errlen)
{
	const char *what = "recording a group's flush";
	char *history = json_dumps(f->history, JSON_COMPACT | JSON_ENSURE_ASCII);
	char *alerts = json_dumps(f->alerts, JSON_COMPACT | JSON_ENSURE_ASCII);
	char last_id[24], give_up[24];
	snprintf(last_id, sizeof(last_id), "%lld", (long long)f->last_member_id);
	snprintf(give_up, sizeof(give_up), "%lld", (long long)f->give_up_after_ms);
	int rc = -1;
	if (!history || !alerts) {
		snprintf(err, errlen, "%s: out of memory", what);
		goto out;
	}
	if (f->message_id) {
		const char *p[] = {
			f->message_id,      f->message_check, channel, f->message_resolved ? "t" : "f",
			f->message_payload, give_up
		};
		if (run(s,
			"INSERT INTO alertq_notifications (id, check_name, channel, level, resolved, payload,"
			" give_up_at) VALUES ($1, $2, $3, 0, $4, $5,"
			" now() + $6::bigint * interval '1 millisecond')",
			6, p, what, err, errlen) != 0)
			goto out;
	}
	/* each notification the group took in: what became of it, for history */
	const char *ph[] = { history, channel };
	if (run(s,
		"INSERT INTO alertq_notifications (id, transition_ref, check_name, channel, level, resolved,"
		" payload, state, last_error, give_up_at)"
		" SELECT id, transition_ref, check_name, $2, level, resolved, payload, state, note, now()"
		" FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, transition_ref uuid, check_name text,"
		" level int, resolved boolean, payload text, state text, note text)"
		" ON CONFLICT (id) DO NOTHING",
		2, ph, what, err, errlen) != 0)
		goto out;
	const char *pm[] = { channel, key, last_id };
	if (run(s, "DELETE FROM alertq_group_members WHERE channel = $1 AND group_key = $2 AND id <= $3", 3,
		pm, what, err, errlen) != 0)
		goto out;
	const char *pa[] = { channel, key, alerts };
	if (run(s,
		"UPDATE alertq_group_alerts a SET told = x.told FROM jsonb_to_recordset($3::jsonb)"
		" AS x(check_name text, told boolean, gone boolean)"
		" WHERE a.channel = $1 AND a.group_key = $2 AND a.check_name = x.check_name",
		3, pa, what, err, errlen) != 0 ||
	    run(s,
		"DELETE FROM alertq_group_alerts a USING jsonb_to_recordset($3::jsonb)"
		" AS x(check_name text, told boolean, gone boolean)"
		" WHERE a.channel = $1 AND a.group_key = $2 AND a.check_name = x.check_name AND x.gone",
		3, pa, what, err, errlen) != 0)
		goto out;
	/* a group with nothing firing is done: the next alert starts a new one */
	const char *pg[] = { channel, key, f->message_id ? "t" : "f" };
	if (run(s,
		"WITH done AS (DELETE FROM alertq_groups g WHERE channel = $1 AND group_key = $2"
		"   AND NOT EXISTS (SELECT 1 FROM alertq_group_alerts a WHERE a.channel = $1"
		"   AND a.group_key = $2 AND a.firing) AND $3::boolean IS NOT NULL RETURNING 1)"
		" UPDATE alertq_groups SET next_flush_at = NULL,"
		" last_sent_at = CASE WHEN $3::boolean THEN now() ELSE last_sent_at END"
		" WHERE channel = $1 AND group_key = $2 AND NOT EXISTS (SELECT 1 FROM done)",
		3, pg, what, err, errlen) != 0)
		goto out;
	rc = 0;
out:
	free(history);
	free(alerts);
	return rc;
}
