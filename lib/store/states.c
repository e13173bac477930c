/* states.c - reading what a batch starts from: the stored offsets of
 * partitions and the state of checks, for a worker's batch in one round trip */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/strmap.h"
#include "store/store_internal.h"

#define OFFSETS_CREATE                                                       \
	"INSERT INTO alertq_offsets (topic, partition, next_offset)"         \
	" SELECT $1, p::int, -1 FROM jsonb_array_elements_text($2::jsonb) p" \
	" ON CONFLICT DO NOTHING"
#define OFFSETS_READ                                                                     \
	"SELECT partition, next_offset, cluster_id FROM alertq_offsets WHERE topic = $1" \
	" AND partition IN (SELECT p::int FROM jsonb_array_elements_text($2::jsonb) p)"
#define OFFSETS_LOCK OFFSETS_READ " ORDER BY partition FOR UPDATE"

/* The partitions as a JSON array (malloc'd), with next_offsets and clusters
 * set to "none stored". NULL when out of memory. */
static char *offsets_start(const int32_t *partitions, size_t n, int64_t *next_offsets,
			   char (*clusters)[AQ_CLUSTER_ID_MAX])
{
	json_t *list = json_array();
	for (size_t i = 0; i < n; i++) {
		json_array_append_new(list, json_integer(partitions[i]));
		next_offsets[i] = -1;
		if (clusters)
			clusters[i][0] = '\0';
	}
	char *parts = json_dumps(list, JSON_COMPACT);
	json_decref(list);
	return parts;
}

/* Fills next_offsets and clusters from the rows of OFFSETS_READ. */
static void offsets_from_rows(PGresult *res, const int32_t *partitions, size_t n, int64_t *next_offsets,
			      char (*clusters)[AQ_CLUSTER_ID_MAX])
{
	for (int row = 0; row < PQntuples(res); row++) {
		int32_t partition = (int32_t)atoi(PQgetvalue(res, row, 0));
		int64_t next = strtoll(PQgetvalue(res, row, 1), NULL, 10);
		for (size_t i = 0; i < n; i++) {
			if (partitions[i] != partition)
				continue;
			next_offsets[i] = next;
			if (clusters)
				snprintf(clusters[i], AQ_CLUSTER_ID_MAX, "%s", PQgetvalue(res, row, 2));
		}
	}
}

int aq_store_offsets(aq_store_t *s, const char *topic, const int32_t *partitions, size_t n, int lock,
		     int64_t *next_offsets, char (*clusters)[AQ_CLUSTER_ID_MAX], char *err, size_t errlen)
{
	char *parts = offsets_start(partitions, n, next_offsets, clusters);
	if (!parts) {
		snprintf(err, errlen, "reading stored offsets: out of memory");
		return -1;
	}
	const char *params[] = { topic, parts };
	PGresult *res;
	if (lock) {
		res = PQexecParams(s->conn, OFFSETS_CREATE, 2, NULL, params, NULL, NULL, 0);
		if (store_check_result(s, res, PGRES_COMMAND_OK, "creating offset rows", err, errlen) != 0) {
			free(parts);
			return -1;
		}
		PQclear(res);
	}
	res = PQexecParams(s->conn, lock ? OFFSETS_LOCK : OFFSETS_READ, 2, NULL, params, NULL, NULL, 0);
	free(parts);
	if (store_check_result(s, res, PGRES_TUPLES_OK, "reading stored offsets", err, errlen) != 0)
		return -1;
	offsets_from_rows(res, partitions, n, next_offsets, clusters);
	PQclear(res);
	return 0;
}

/* aq_status_parse for a NOT NULL severity column: a name this build does not
 * know reads as OK rather than AQ_STATUS_NONE, which no severity may be. */
static int parse_severity(const char *text)
{
	int status = aq_status_parse(text);
	return status == AQ_STATUS_NONE ? AQ_OK : status;
}

/* Fills st from row of res (columns in the order of STATE_COLUMNS). */
#define STATE_COLUMNS                                                                                        \
	"check_name, severity, since_ms, pending_severity, pending_count, has_value, value, status, "        \
	"message,"                                                                                           \
	" labels::text, last_seen_ms, interval_ms, last_event_id, stale_at_ms, stale, episode,"              \
	" escalation_level, last_notified_ms, next_action_ms, array_to_json(told)::text, acked, suppressed," \
	" previous_severity, expires_at_ms,"                                                                 \
	" annotations::text, flap_history, flap_count, flapping, flapping_since_ms, inhibited_by"

static void state_from_row(struct aq_state *st, PGresult *res, int row)
{
	aq_state_init(st, PQgetvalue(res, row, 0));
	st->known = 1;
	st->severity = parse_severity(PQgetvalue(res, row, 1));
	st->since_ms = strtoll(PQgetvalue(res, row, 2), NULL, 10);
	st->pending_severity = PQgetisnull(res, row, 3) ? AQ_STATUS_NONE
							: aq_status_parse(PQgetvalue(res, row, 3));
	st->pending_count = atoi(PQgetvalue(res, row, 4));
	st->has_value = PQgetvalue(res, row, 5)[0] == 't';
	st->value = st->has_value ? strtod(PQgetvalue(res, row, 6), NULL) : 0;
	st->status = PQgetisnull(res, row, 7) ? AQ_STATUS_NONE : aq_status_parse(PQgetvalue(res, row, 7));
	free(st->message);
	st->message = aq_strdup(PQgetvalue(res, row, 8));
	json_t *labels = json_loads(PQgetvalue(res, row, 9), 0, NULL);
	if (json_is_object(labels) && json_object_size(labels) > 0) {
		st->labels = calloc(json_object_size(labels), sizeof(*st->labels));
		const char *key;
		json_t *value;
		json_object_foreach(labels, key, value)
		{
			if (st->labels && json_is_string(value)) {
				st->labels[st->nlabels].key = aq_strdup(key);
				st->labels[st->nlabels].value = aq_strdup(json_string_value(value));
				st->nlabels++;
			}
		}
	}
	json_decref(labels);
	st->last_seen_ms = strtoll(PQgetvalue(res, row, 10), NULL, 10);
	st->interval_ms = strtoll(PQgetvalue(res, row, 11), NULL, 10);
	snprintf(st->last_event_id, sizeof(st->last_event_id), "%s", PQgetvalue(res, row, 12));
	st->stale_at_ms = strtoll(PQgetvalue(res, row, 13), NULL, 10);
	st->stale = PQgetvalue(res, row, 14)[0] == 't';
	st->episode = strtoll(PQgetvalue(res, row, 15), NULL, 10);
	st->escalation_level = atoi(PQgetvalue(res, row, 16));
	st->last_notified_ms = strtoll(PQgetvalue(res, row, 17), NULL, 10);
	st->next_action_ms = strtoll(PQgetvalue(res, row, 18), NULL, 10);
	json_t *told = json_loads(PQgetvalue(res, row, 19), 0, NULL);
	if (json_is_array(told) && json_array_size(told) > 0) {
		st->told = calloc(json_array_size(told), sizeof(*st->told));
		size_t i;
		json_t *name;
		json_array_foreach(told, i, name)
		{
			if (st->told && json_is_string(name))
				st->told[st->ntold++] = aq_strdup(json_string_value(name));
		}
	}
	json_decref(told);
	st->acked = PQgetvalue(res, row, 20)[0] == 't';
	st->suppressed = PQgetvalue(res, row, 21)[0] == 't';
	st->previous_severity = parse_severity(PQgetvalue(res, row, 22));
	st->expires_at_ms = strtoll(PQgetvalue(res, row, 23), NULL, 10);
	/* annotations */
	json_t *annotations = json_loads(PQgetvalue(res, row, 24), 0, NULL);
	if (json_is_object(annotations) && json_object_size(annotations) > 0) {
		st->annotations = calloc(json_object_size(annotations), sizeof(*st->annotations));
		const char *key;
		json_t *value;
		json_object_foreach(annotations, key, value)
		{
			if (st->annotations && json_is_string(value)) {
				st->annotations[st->nannotations].key = aq_strdup(key);
				st->annotations[st->nannotations].value = aq_strdup(json_string_value(value));
				st->nannotations++;
			}
		}
	}
	json_decref(annotations);
	/* flapping */
	st->flap_history = strtoull(PQgetvalue(res, row, 25), NULL, 10);
	st->flap_count = atoi(PQgetvalue(res, row, 26));
	st->flapping = PQgetvalue(res, row, 27)[0] == 't';
	st->flapping_since_ms = strtoll(PQgetvalue(res, row, 28), NULL, 10);
	/* inhibition */
	st->inhibited_by = PQgetisnull(res, row, 29) ? NULL : aq_strdup(PQgetvalue(res, row, 29));
}

/* Indexes every row of res by its first column (a check name), so that
 * matching a batch's checks to their rows costs one probe each rather than a
 * scan of every row. Returns 0, or -1 when out of memory. */
static int row_index_build(struct aq_strmap *index, PGresult *res)
{
	int rows = PQntuples(res);
	aq_strmap_init(index);
	if (aq_strmap_reserve(index, (size_t)rows) != 0)
		return -1;
	for (int row = 0; row < rows; row++)
		if (aq_strmap_put(index, PQgetvalue(res, row, 0), (size_t)row, NULL) < 0)
			return -1;
	return 0;
}

/* The rows of the checks named by $1, a JSON array. */
#define STATES_NAMED " FROM alertq_checks WHERE check_name IN (SELECT jsonb_array_elements_text($1::jsonb))"
#define STATES_READ "SELECT " STATE_COLUMNS STATES_NAMED
#define STATES_LOCK STATES_READ " ORDER BY check_name FOR UPDATE"
/* A batch's read: no lock, each row with its version (the column after
 * STATE_COLUMNS'), which the batch's update checks instead. Locking every
 * row a batch names cost the server a write of each before the rewrite. */
#define STATES_READ_VERSIONED "SELECT " STATE_COLUMNS ", xmin::text" STATES_NAMED
#define VERSION_COLUMN 30

/* The k-th of n checks read: checks[which[k]] into states[which[k]], or
 * with which NULL checks[k] into states[k]. */
#define PICK(which, k) ((which) ? (which)[k] : (k))

/* The check names as a JSON array (malloc'd), every state to fill with a
 * NULL check. NULL when out of memory. */
static char *states_start(const char *const *checks, const size_t *which, size_t n, struct aq_state *states)
{
	json_t *names = json_array();
	for (size_t k = 0; k < n; k++) {
		json_array_append_new(names, json_string(checks[PICK(which, k)]));
		states[PICK(which, k)].check = NULL;
	}
	char *list = json_dumps(names, JSON_COMPACT);
	json_decref(names);
	return list;
}

/* Fills states[i] from the rows of STATES_READ (or STATES_READ_VERSIONED
 * with versioned: each state's row_version too): the row of checks[i], or
 * aq_state_init when it has none. Returns 0, or -1 with err (no state
 * filled). */
static int states_from_rows(PGresult *res, int versioned, const char *const *checks, const size_t *which,
			    size_t n, struct aq_state *states, char *err, size_t errlen)
{
	struct aq_strmap index;
	if (row_index_build(&index, res) != 0) {
		aq_strmap_release(&index);
		snprintf(err, errlen, "loading check state: out of memory");
		return -1;
	}
	for (size_t k = 0; k < n; k++) {
		size_t i = PICK(which, k);
		size_t row;
		if (aq_strmap_get(&index, checks[i], &row)) {
			state_from_row(&states[i], res, (int)row);
			if (versioned)
				states[i].row_version = (uint32_t)strtoul(
					PQgetvalue(res, (int)row, VERSION_COLUMN), NULL, 10);
		} else
			aq_state_init(&states[i], checks[i]);
	}
	aq_strmap_release(&index);
	return 0;
}

int aq_store_load_states(aq_store_t *s, const char *const *checks, size_t n, int lock,
			 struct aq_state *states, char *err, size_t errlen)
{
	char *list = states_start(checks, NULL, n, states);
	if (!list) {
		snprintf(err, errlen, "loading check state: out of memory");
		return -1;
	}
	const char *params[] = { list };
	PGresult *res = PQexecParams(s->conn, lock ? STATES_LOCK : STATES_READ, 1, NULL, params, NULL, NULL,
				     0);
	free(list);
	if (store_check_result(s, res, PGRES_TUPLES_OK, "loading check state", err, errlen) != 0)
		return -1;
	int rc = states_from_rows(res, 0, checks, NULL, n, states, err, errlen);
	PQclear(res);
	return rc;
}

int aq_store_batch_read(aq_store_t *s, const char *topic, const int32_t *partitions, size_t nparts,
			int64_t *next_offsets, char (*clusters)[AQ_CLUSTER_ID_MAX], const char *const *checks,
			const size_t *which, size_t nchecks, int lock, struct aq_state *states, char *err,
			size_t errlen)
{
	char *parts = offsets_start(partitions, nparts, next_offsets, clusters);
	char *names = states_start(checks, which, nchecks, states);
	if (!parts || !names) {
		free(parts);
		free(names);
		snprintf(err, errlen, "reading a batch's state: out of memory");
		return -1;
	}
	const char *offset_params[] = { topic, parts };
	const char *state_params[] = { names };
	PGresult *offsets = NULL;
	PGresult *rows = NULL;
	PGresult *silences = NULL;
	/* the offset rows are locked: a second worker given the same
	 * partitions waits here. The checks' rows are read without a lock
	 * (their update checks that none changed since: aq_state.row_version),
	 * or with lock locked in name order, as a batch that keeps meeting
	 * other writers does to be sure to get through */
	struct store_step steps[] = {
		{ "BEGIN", 0, NULL, PGRES_COMMAND_OK, "BEGIN", NULL },
		{ OFFSETS_CREATE, 2, offset_params, PGRES_COMMAND_OK, "creating offset rows", NULL },
		{ OFFSETS_LOCK, 2, offset_params, PGRES_TUPLES_OK, "reading stored offsets", &offsets },
		{ SILENCES_SQL, 0, NULL, PGRES_TUPLES_OK, "reading silences", &silences },
		{ lock ? STATES_LOCK : STATES_READ_VERSIONED, 1, state_params, PGRES_TUPLES_OK,
		  "loading check state", &rows },
	};
	aq_store_failure_forget(s);
	int rc = store_pipeline(s, steps, nchecks > 0 ? 5 : 4, err, errlen);
	free(parts);
	free(names);
	if (rc == 0) {
		offsets_from_rows(offsets, partitions, nparts, next_offsets, clusters);
		store_silences_take(s, silences);
		if (nchecks > 0)
			rc = states_from_rows(rows, !lock, checks, which, nchecks, states, err, errlen);
	}
	PQclear(offsets);
	PQclear(rows);
	PQclear(silences);
	return rc;
}
