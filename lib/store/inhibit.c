/* inhibit.c - inhibition in the state database: the source that fires for
 * a check now, held outbox rows decided when they fall due, and the
 * inhibited_by column the ticker releases by */
#include "store/inhibit.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alertq/event.h"
#include "alertq/group.h"
#include "alertq/rules.h"
#include "base/buf.h"
#include "store/store_internal.h"

/* Labels from a jsonb object's text into a new array (string values only). */
static size_t labels_from_json(const char *text, struct aq_label **out)
{
	*out = NULL;
	json_t *o = json_loads(text, 0, NULL);
	size_t n = 0;
	if (json_is_object(o) && json_object_size(o) > 0) {
		*out = aq_xcalloc(json_object_size(o), sizeof(**out));
		const char *key;
		json_t *value;
		json_object_foreach(o, key, value)
		{
			if (!json_is_string(value))
				continue;
			(*out)[n].key = aq_strdup(key);
			(*out)[n].value = aq_strdup(json_string_value(value));
			n++;
		}
	}
	json_decref(o);
	return n;
}

/* A LIKE pattern for glob into b, or 0 when the glob has brackets or
 * escapes that LIKE cannot say (then no name filter is applied in SQL). */
static int like_of_glob(const char *glob, struct aq_buf *b)
{
	if (strpbrk(glob, "[\\"))
		return 0;
	for (const char *p = glob; *p; p++) {
		if (*p == '*')
			aq_buf_add(b, "%", 1);
		else if (*p == '?')
			aq_buf_add(b, "_", 1);
		else if (*p == '%' || *p == '_') {
			aq_buf_add(b, "\\", 1);
			aq_buf_add(b, p, 1);
		} else
			aq_buf_add(b, p, 1);
	}
	aq_buf_add(b, "", 1);
	return !b->failed;
}

/* Looks under one entry. Returns 1 (src set), 0 or -1. */
static int source_under(aq_store_t *s, const struct aq_inhibit *e, const char *check,
			const struct aq_label *labels, size_t nlabels, struct aq_inhibit_source *src,
			char *err, size_t errlen)
{
	/* what SQL can filter by: severities, exact labels, equal labels, the
	 * name; the rest (expressions, the sides' overlap) is checked here */
	json_t *contains = json_object();
	json_t *empty = json_array();
	json_t *severities = json_array();
	int impossible = 0;
	for (int sev = AQ_OK; sev <= AQ_UNKNOWN; sev++)
		if (sev != AQ_OK && aq_severity_rank(sev) >= aq_severity_rank(e->source_severity))
			json_array_append_new(severities, json_string(aq_status_name(sev)));
	for (size_t i = 0; i < e->source.nlabels; i++) {
		const struct aq_label_matcher *m = &e->source.labels[i];
		if (m->is_re)
			continue;
		if (*m->value)
			json_object_set_new(contains, m->key, json_string(m->value));
		else
			json_array_append_new(empty, json_string(m->key));
	}
	for (size_t k = 0; k < e->nequal; k++) {
		const char *v = aq_label_value(labels, nlabels, e->equal[k]);
		json_t *have = json_object_get(contains, e->equal[k]);
		if (*v == '\0') {
			if (have)
				impossible = 1;
			json_array_append_new(empty, json_string(e->equal[k]));
		} else if (have && strcmp(json_string_value(have), v) != 0) {
			impossible = 1;
		} else {
			json_object_set_new(contains, e->equal[k], json_string(v));
		}
	}
	int rc = 0;
	char *contains_text = json_dumps(contains, JSON_COMPACT);
	char *empty_text = json_dumps(empty, JSON_COMPACT);
	char *severities_text = json_dumps(severities, JSON_COMPACT);
	struct aq_buf like;
	aq_buf_init(&like, 4096);
	int has_like = e->source.match && like_of_glob(e->source.match, &like);
	if (!contains_text || !empty_text || !severities_text) {
		snprintf(err, errlen, "looking for an inhibiting source: out of memory");
		rc = -1;
		goto out;
	}
	if (impossible)
		goto out;
	const char *params[] = { check, severities_text, contains_text, has_like ? like.data : NULL,
				 empty_text };
	PGresult *res = PQexecParams(
		s->conn,
		"SELECT check_name, labels::text, severity, updated_at::text FROM alertq_checks"
		" WHERE severity <> 'OK' AND severity IN (SELECT jsonb_array_elements_text($2::jsonb))"
		" AND check_name <> $1 AND labels @> $3::jsonb AND ($4::text IS NULL OR check_name LIKE $4)"
		" AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements_text($5::jsonb) k"
		"  WHERE coalesce(labels->>k, '') <> '')"
		" ORDER BY check_name",
		5, NULL, params, NULL, NULL, 0);
	if (store_check_result(s, res, PGRES_TUPLES_OK, "looking for an inhibiting source", err, errlen) !=
	    0) {
		rc = -1;
		goto out;
	}
	for (int row = 0; row < PQntuples(res) && rc == 0; row++) {
		struct aq_label *sl;
		size_t nsl = labels_from_json(PQgetvalue(res, row, 1), &sl);
		const char *name = PQgetvalue(res, row, 0);
		if (aq_inhibit_inhibits(e, check, labels, nlabels, name, sl, nsl,
					aq_status_parse(PQgetvalue(res, row, 2)))) {
			snprintf(src->name, sizeof(src->name), "%s", name);
			snprintf(src->seen, sizeof(src->seen), "%s", PQgetvalue(res, row, 3));
			rc = 1;
		}
		aq_labels_free(sl, nsl);
	}
	PQclear(res);
out:
	free(contains_text);
	free(empty_text);
	free(severities_text);
	aq_buf_release(&like);
	json_decref(contains);
	json_decref(empty);
	json_decref(severities);
	return rc;
}

int aq_store_inhibit_source(aq_store_t *s, const struct aq_config *cfg, const char *check,
			    const struct aq_label *labels, size_t nlabels, struct aq_inhibit_source *src,
			    char *err, size_t errlen)
{
	src->name[0] = '\0';
	src->seen[0] = '\0';
	for (size_t i = 0; i < cfg->ninhibits; i++) {
		const struct aq_inhibit *e = &cfg->inhibits[i];
		if (!aq_check_match(&e->target, check, labels, nlabels))
			continue;
		int rc = source_under(s, e, check, labels, nlabels, src, err, errlen);
		if (rc != 0)
			return rc;
	}
	return 0;
}

int aq_store_set_inhibited_by(aq_store_t *s, const char *check, const struct aq_inhibit_source *src,
			      char *err, size_t errlen)
{
	const char *params[] = { check, src ? src->name : NULL, src ? src->seen : NULL };
	return store_run_query(s,
			       "UPDATE alertq_checks SET inhibited_by = $2, inhibited_seen = $3::timestamptz"
			       " WHERE check_name = $1",
			       3, params, err, errlen);
}

/* Whether the channel of held row id heard of its check's current
 * episode: a firing notification since the last resolved one on that
 * channel, not inhibited. Returns 1, 0 or -1. */
static int told_in_episode(aq_store_t *s, const char *id, char *err, size_t errlen)
{
	const char *params[] = { id };
	PGresult *res = PQexecParams(
		s->conn,
		"SELECT EXISTS (SELECT 1 FROM alertq_notifications r JOIN alertq_notifications f"
		"  ON f.check_name = r.check_name AND f.channel = r.channel"
		" WHERE r.id = $1::uuid AND NOT f.resolved AND f.state <> 'inhibited'"
		" AND f.created_at < r.created_at AND f.id <> r.id"
		" AND f.created_at > coalesce((SELECT max(p.created_at) FROM alertq_notifications p"
		"  WHERE p.check_name = r.check_name AND p.channel = r.channel AND p.resolved"
		"  AND p.created_at < r.created_at), '-infinity'))",
		1, NULL, params, NULL, NULL, 0);
	if (store_check_result(s, res, PGRES_TUPLES_OK, "reading what a channel was told", err, errlen) != 0)
		return -1;
	int told = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	return told;
}

/* Sends a held row on, or marks it inhibited with reason. */
static int decide(aq_store_t *s, const char *id, const char *reason, char *err, size_t errlen)
{
	const char *params[] = { id, reason };
	return store_run_query(
		s,
		reason ? "UPDATE alertq_notifications SET state = 'inhibited', last_error = $2"
			 " WHERE id = $1::uuid"
		       : "UPDATE alertq_notifications SET state = 'pending', next_attempt_at = now()"
			 " WHERE id = $1::uuid",
		reason ? 2 : 1, params, err, errlen);
}

/* Sends held row `row` of res (a grouped channel's) on into its group
 * instead of the outbox: the group's flush tells it, with the others. The
 * member keeps the row's notification id, and the row goes. */
static int release_into_group(aq_store_t *s, const struct aq_channel *ch, PGresult *res, int row,
			      const struct aq_label *labels, size_t nlabels, char *err, size_t errlen)
{
	const char *id = PQgetvalue(res, row, 0);
	const char *check = PQgetvalue(res, row, 1);
	char *key = NULL, *group_labels = NULL;
	if (aq_group_of(ch, check, labels, nlabels, &key, &group_labels) != 0) {
		snprintf(err, errlen, "releasing a held notification into its group: out of memory");
		return -1;
	}
	struct aq_group_member_in in = {
		.id = id,
		.transition_ref = PQgetisnull(res, row, 5) ? NULL : PQgetvalue(res, row, 5),
		.check = check,
		.channel = ch->name,
		.group_key = key,
		.group_labels = group_labels,
		.level = atoi(PQgetvalue(res, row, 6)),
		.resolved = PQgetvalue(res, row, 2)[0] == 't',
		.payload = PQgetvalue(res, row, 4),
		.group_wait_ms = ch->group_wait_ms,
		.group_interval_ms = ch->group_interval_ms,
	};
	json_t *rows = json_array();
	json_t *m = store_group_member_row(&in);
	free(key);
	free(group_labels);
	if (!rows || !m || json_array_append_new(rows, m) != 0) {
		json_decref(rows);
		snprintf(err, errlen, "releasing a held notification into its group: out of memory");
		return -1;
	}
	const char *params[] = { id };
	int rc = store_run_query(s, "DELETE FROM alertq_notifications WHERE id = $1::uuid", 1, params, err,
				 errlen);
	if (rc == 0)
		rc = aq_store_write_group_members(s, rows, err, errlen);
	json_decref(rows);
	return rc;
}

/* Marks check inhibited by src: suppressed, like a silence, so that the
 * ticker tells the current level when it ends; the channel is struck from
 * those told unless told is set. */
static int mark_check(aq_store_t *s, const char *check, const struct aq_inhibit_source *src,
		      const char *channel, int told, char *err, size_t errlen)
{
	const char *params[] = { check, src->name, told ? NULL : channel, src->seen };
	return store_run_query(s,
			       "UPDATE alertq_checks SET inhibited_by = $2, inhibited_seen = $4::timestamptz,"
			       " suppressed = true,"
			       " told = CASE WHEN $3::text IS NULL THEN told ELSE array_remove(told, $3) END"
			       " WHERE check_name = $1 AND severity <> 'OK'",
			       4, params, err, errlen);
}

int aq_store_inhibit_pass(aq_store_t *s, const struct aq_config *cfg, const char *channel, int max,
			  int *released, int *inhibited, char *err, size_t errlen)
{
	char limit[16];
	snprintf(limit, sizeof(limit), "%d", max);
	const char *params[] = { channel, limit };
	*released = 0;
	*inhibited = 0;
	PGresult *res = PQexecParams(
		s->conn,
		"SELECT n.id, n.check_name, n.resolved, coalesce(c.labels::text, '{}'), n.payload,"
		" n.transition_ref, n.level"
		" FROM alertq_notifications n LEFT JOIN alertq_checks c ON c.check_name = n.check_name"
		" WHERE n.channel = $1 AND n.state = 'held' AND n.next_attempt_at <= now()"
		" ORDER BY n.next_attempt_at, n.created_at LIMIT $2 FOR UPDATE OF n SKIP LOCKED",
		2, NULL, params, NULL, NULL, 0);
	if (store_check_result(s, res, PGRES_TUPLES_OK, "claiming held notifications", err, errlen) != 0)
		return -1;
	int rc = 0;
	for (int row = 0; row < PQntuples(res) && rc == 0; row++) {
		const char *id = PQgetvalue(res, row, 0);
		const char *check = PQgetvalue(res, row, 1);
		int resolved = PQgetvalue(res, row, 2)[0] == 't';
		struct aq_label *labels;
		size_t nlabels = labels_from_json(PQgetvalue(res, row, 3), &labels);
		struct aq_inhibit_source src;
		char reason[AQ_INHIBIT_SOURCE_MAX + 32];
		int found = 0;
		int told = 0;
		if (aq_inhibit_any_target(cfg, check, labels, nlabels)) {
			told = told_in_episode(s, id, err, errlen);
			if (told < 0) {
				rc = -1;
			} else if (resolved) {
				/* as after a silence: who never heard it fire does not hear it end */
				found = !told;
				snprintf(reason, sizeof(reason),
					 "inhibited: the channel was not told it fired");
			} else {
				found = aq_store_inhibit_source(s, cfg, check, labels, nlabels, &src, err,
								errlen);
				if (found < 0)
					rc = -1;
				snprintf(reason, sizeof(reason), "inhibited by %s", src.name);
			}
		}
		if (rc == 0 && found && !resolved)
			rc = mark_check(s, check, &src, channel, told, err, errlen);
		/* a grouped channel's notification goes on into its group */
		const struct aq_channel *ch = aq_config_channel(cfg, channel);
		if (rc == 0 && !found && ch && ch->grouped)
			rc = release_into_group(s, ch, res, row, labels, nlabels, err, errlen);
		else if (rc == 0)
			rc = decide(s, id, found ? reason : NULL, err, errlen);
		if (rc == 0 && found)
			(*inhibited)++;
		else if (rc == 0)
			(*released)++;
		aq_labels_free(labels, nlabels);
	}
	PQclear(res);
	return rc;
}
