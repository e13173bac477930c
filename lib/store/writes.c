/* writes.c - what one batch writes: check states (by COPY), transitions,
 * notifications, dead letters and offsets, in the caller's transaction */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <math.h>

#include "base/buf.h"
#include "base/utf8.h"
#include "store/batch_io.h"
#include "store/store_internal.h"

/* A dead letter's reason is kept cleaned and cut to this many bytes. */
#define DEAD_LETTER_REASON_MAX 1000

#define OUT_OF_MEMORY "out of memory"
#define OVER_SIZE "the batch is over its size or memory ran out"

struct aq_writes {
	struct aq_buf states; /* COPY text, one line a state; failed: the write fails */
	size_t nstates;
	size_t nnew; /* of them, states not read from the database (known = 0) */
	json_t *transitions;
	json_t *notifications;
	json_t *offsets;
	json_t *dead_letters;
	size_t lost;           /* rows that could not be queued: the batch never writes */
	int lost_to_resources; /* one of them for memory or size, not for what it held */
	char first_loss[200];  /* why the first of them was lost */
	json_t *group_members; /* notifications for grouped channels (groups.c) */
};

aq_writes_t *aq_writes_new(void)
{
	aq_writes_t *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	aq_buf_init(&w->states, COPY_MAX);
	w->transitions = json_array();
	w->notifications = json_array();
	w->offsets = json_array();
	w->dead_letters = json_array();
	w->group_members = json_array();
	if (!w->transitions || !w->notifications || !w->offsets || !w->dead_letters || !w->group_members) {
		aq_writes_free(w);
		return NULL;
	}
	return w;
}

void aq_writes_free(aq_writes_t *w)
{
	if (!w)
		return;
	aq_buf_release(&w->states);
	json_decref(w->transitions);
	json_decref(w->notifications);
	json_decref(w->offsets);
	json_decref(w->dead_letters);
	json_decref(w->group_members);
	free(w);
}

void aq_writes_clear(aq_writes_t *w)
{
	/* released, not kept at its largest: a batch of 20k new checks leaves
	 * megabytes behind that the next (often one-result) batch never needs */
	aq_buf_release(&w->states);
	w->nstates = 0;
	w->nnew = 0;
	json_array_clear(w->transitions);
	json_array_clear(w->notifications);
	json_array_clear(w->offsets);
	json_array_clear(w->dead_letters);
	json_array_clear(w->group_members);
	w->lost = 0;
	w->lost_to_resources = 0;
	w->first_loss[0] = '\0';
}

int aq_writes_empty(const aq_writes_t *w)
{
	return w->lost == 0 && w->nstates == 0 && json_array_size(w->transitions) == 0 &&
		json_array_size(w->notifications) == 0 && json_array_size(w->offsets) == 0 &&
		json_array_size(w->dead_letters) == 0 && json_array_size(w->group_members) == 0;
}

/* Counts a row that could not be queued; returns -1. why says what was
 * wrong: out of memory and over the batch's size are the resources' fault,
 * everything else the row's own. */
static int lose(aq_writes_t *w, const char *what, const char *name, const char *why)
{
	if (strcmp(why, OUT_OF_MEMORY) == 0 || strcmp(why, OVER_SIZE) == 0)
		w->lost_to_resources = 1;
	if (w->lost++ == 0) {
		char shown[80];
		aq_text_clean_into(shown, sizeof(shown), name, name ? strlen(name) : 0, AQ_TEXT_SPACES);
		snprintf(w->first_loss, sizeof(w->first_loss), "%s '%s': %s", what, shown, why);
	}
	return -1;
}

/* Whether s can be stored as text: NULL or well-formed UTF-8. */
static int text_ok(const char *s)
{
	return !s || aq_utf8_valid(s, strlen(s));
}

/* A double as JSON: a number, or for NaN and the infinities the text
 * PostgreSQL reads as a double precision, which JSON has no number for. */
static json_t *double_json(double v)
{
	if (isnan(v))
		return json_string("NaN");
	if (isinf(v))
		return json_string(v > 0 ? "Infinity" : "-Infinity");
	return json_real(v);
}

/* Adds the members of a row being built; sets *failed when one could not be
 * made (out of memory), which json_object_set_new reports for a NULL value. */
static void put(json_t *row, const char *key, json_t *value, int *failed)
{
	if (json_object_set_new(row, key, value) != 0)
		*failed = 1;
}

/* Appends a built row to list. Returns 0, or -1 (row freed, the loss
 * counted) when building or appending it failed. */
static int queue_row(aq_writes_t *w, json_t *list, json_t *row, int failed, const char *what,
		     const char *name)
{
	if (!row || failed || json_array_append_new(list, row) != 0) {
		if (failed)
			json_decref(row);
		return lose(w, what, name, OUT_OF_MEMORY);
	}
	return 0;
}

/* Appends s escaped for COPY's text format. */
static void copy_text(struct aq_buf *b, const char *s)
{
	size_t n = strlen(s);
	if (aq_buf_reserve(b, 2 * n) != 0)
		return;
	for (; *s; s++) {
		char c = *s;
		if (c == '\\' || c == '\t' || c == '\n' || c == '\r') {
			b->data[b->len++] = '\\';
			c = c == '\t' ? 't' : c == '\n' ? 'n' : c == '\r' ? 'r' : '\\';
		}
		b->data[b->len++] = c;
	}
	b->data[b->len] = '\0';
}

/* Appends s as the body of a JSON string (without quotes), then escaped
 * for COPY: \" and \\ become \\" and \\\\, control characters \\u00XX. */
static void copy_json_string(struct aq_buf *b, const char *s)
{
	char esc[8];
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			esc[2] = '\0';
			copy_text(b, esc);
		} else if (c < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			copy_text(b, esc);
		} else {
			aq_buf_add(b, (const char *)&c, 1);
		}
	}
}

/* Appends s as one element of an array literal ("..." with \" and \\),
 * escaped for COPY. */
static void copy_array_element(struct aq_buf *b, const char *s)
{
	aq_buf_add(b, "\"", 1);
	for (; *s; s++) {
		char two[3] = { '\\', *s, '\0' };
		copy_text(b, (*s == '"' || *s == '\\') ? two : two + 1);
	}
	aq_buf_add(b, "\"", 1);
}

static void copy_sep(struct aq_buf *b)
{
	aq_buf_add(b, "\t", 1);
}

static void copy_null(struct aq_buf *b)
{
	aq_buf_add(b, "\\N", 2);
}

static void copy_int(struct aq_buf *b, long long v)
{
	char text[32];
	int n = snprintf(text, sizeof(text), "%lld", v);
	aq_buf_add(b, text, (size_t)n);
}

static void copy_bool(struct aq_buf *b, int v)
{
	aq_buf_add(b, v ? "t" : "f", 1);
}

static void copy_severity(struct aq_buf *b, int severity)
{
	const char *name = aq_status_name(severity);
	if (name)
		copy_text(b, name);
	else
		copy_null(b);
}

/* Why st cannot be stored as it is, or NULL when it can. */
static const char *state_unstorable(const struct aq_state *st)
{
	if (!st->check || !text_ok(st->check) || !text_ok(st->message) || !text_ok(st->last_event_id))
		return "a text is not valid UTF-8";
	for (size_t i = 0; i < st->nlabels; i++)
		if (!st->labels[i].key || !st->labels[i].value || !text_ok(st->labels[i].key) ||
		    !text_ok(st->labels[i].value))
			return "a label is not valid UTF-8";
	for (size_t i = 0; i < st->ntold; i++)
		if (!st->told[i] || !text_ok(st->told[i]))
			return "a channel name is not valid UTF-8";
	for (size_t i = 0; i < st->nannotations; i++)
		if (!st->annotations[i].key || !st->annotations[i].value ||
		    !text_ok(st->annotations[i].key) || !text_ok(st->annotations[i].value))
			return "an annotation is not valid UTF-8";
	if (!aq_status_name(st->severity) || !aq_status_name(st->previous_severity))
		return "no such severity";
	return NULL;
}

/* One line of alertq_batch_states, its columns in STATE_COPY_COLUMNS order. */
int aq_writes_state(aq_writes_t *w, const struct aq_state *st)
{
	struct aq_buf *b = &w->states;
	const char *why = state_unstorable(st);
	if (why)
		return lose(w, "state of", st->check, why);
	if (b->failed)
		return lose(w, "state of", st->check, OVER_SIZE);
	copy_text(b, st->check);
	copy_sep(b);
	copy_severity(b, st->severity);
	copy_sep(b);
	copy_int(b, st->since_ms);
	copy_sep(b);
	copy_severity(b, st->previous_severity);
	copy_sep(b);
	copy_severity(b, st->pending_severity);
	copy_sep(b);
	copy_int(b, st->pending_count);
	copy_sep(b);
	copy_bool(b, st->has_value);
	copy_sep(b);
	if (st->has_value) {
		char text[40];
		/* nan, inf and -inf read back as the same double */
		int n = snprintf(text, sizeof(text), "%.17g", st->value);
		aq_buf_add(b, text, (size_t)n);
	} else {
		copy_null(b);
	}
	copy_sep(b);
	copy_severity(b, st->status);
	copy_sep(b);
	copy_text(b, st->message ? st->message : "");
	copy_sep(b);
	aq_buf_add(b, "{", 1);
	for (size_t i = 0; i < st->nlabels; i++) {
		aq_buf_add(b, i ? ",\"" : "\"", i ? 2 : 1);
		copy_json_string(b, st->labels[i].key);
		aq_buf_add(b, "\":\"", 3);
		copy_json_string(b, st->labels[i].value);
		aq_buf_add(b, "\"", 1);
	}
	aq_buf_add(b, "}", 1);
	copy_sep(b);
	copy_int(b, st->last_seen_ms);
	copy_sep(b);
	copy_int(b, st->interval_ms);
	copy_sep(b);
	copy_text(b, st->last_event_id);
	copy_sep(b);
	copy_int(b, st->stale_at_ms);
	copy_sep(b);
	copy_bool(b, st->stale);
	copy_sep(b);
	copy_int(b, st->episode);
	copy_sep(b);
	copy_int(b, st->escalation_level);
	copy_sep(b);
	copy_int(b, st->last_notified_ms);
	copy_sep(b);
	copy_int(b, st->next_action_ms);
	copy_sep(b);
	aq_buf_add(b, "{", 1);
	for (size_t i = 0; i < st->ntold; i++) {
		if (i)
			aq_buf_add(b, ",", 1);
		copy_array_element(b, st->told[i]);
	}
	aq_buf_add(b, "}", 1);
	copy_sep(b);
	copy_bool(b, st->acked);
	copy_sep(b);
	copy_bool(b, st->suppressed);
	copy_sep(b);
	copy_int(b, st->expires_at_ms);
	/* annotations */
	copy_sep(b);
	aq_buf_add(b, "{", 1);
	for (size_t i = 0; i < st->nannotations; i++) {
		aq_buf_add(b, i ? ",\"" : "\"", i ? 2 : 1);
		copy_json_string(b, st->annotations[i].key);
		aq_buf_add(b, "\":\"", 3);
		copy_json_string(b, st->annotations[i].value);
		aq_buf_add(b, "\"", 1);
	}
	aq_buf_add(b, "}", 1);
	/* flapping */
	copy_sep(b);
	copy_int(b, (int64_t)st->flap_history);
	copy_sep(b);
	copy_int(b, st->flap_count);
	copy_sep(b);
	copy_bool(b, st->flapping);
	copy_sep(b);
	copy_int(b, st->flapping_since_ms);
	/* the version of the row it was read from, checked by STATES_UPDATE */
	copy_sep(b);
	if (st->row_version)
		copy_int(b, st->row_version);
	else
		copy_null(b);
	aq_buf_add(b, "\n", 1);
	w->nstates++;
	if (!st->known)
		w->nnew++;
	if (b->failed)
		return lose(w, "state of", st->check, OVER_SIZE);
	return 0;
}

int aq_writes_transition(aq_writes_t *w, const char *check, const struct aq_transition *tr, char ref[37])
{
	aq_uuid4(ref);
	const char *from = aq_status_name(tr->from);
	const char *to = aq_status_name(tr->to);
	if (!check || !text_ok(check) || !text_ok(tr->message) || !text_ok(tr->event_id))
		return lose(w, "transition of", check, "a text is not valid UTF-8");
	if (!from || !to)
		return lose(w, "transition of", check, "no such severity");
	int failed = 0;
	json_t *row = json_object();
	if (!row)
		return lose(w, "transition of", check, OUT_OF_MEMORY);
	put(row, "ref", json_string(ref), &failed);
	put(row, "check_name", json_string(check), &failed);
	put(row, "from_severity", json_string(from), &failed);
	put(row, "to_severity", json_string(to), &failed);
	put(row, "value", tr->has_value ? double_json(tr->value) : json_null(), &failed);
	put(row, "message", json_string(tr->message ? tr->message : ""), &failed);
	put(row, "observed_at_ms", json_integer(tr->observed_at_ms), &failed);
	put(row, "event_id", json_string(tr->event_id ? tr->event_id : ""), &failed);
	put(row, "cause", json_string(aq_transition_cause(tr)), &failed);
	/* annotations */
	json_t *annotations = json_object();
	/* jansson takes only UTF-8: text that is not fails the row */
	for (size_t i = 0; annotations && i < tr->nannotations; i++)
		put(annotations, tr->annotations[i].key, json_string(tr->annotations[i].value), &failed);
	put(row, "annotations", annotations, &failed);
	put(row, "flapping", json_string(aq_transition_flapping(tr)), &failed);
	return queue_row(w, w->transitions, row, failed, "transition of", check);
}

int aq_writes_notification(aq_writes_t *w, const char *id, const char *transition_ref, const char *check,
			   const char *channel, int level, int resolved, const char *payload,
			   int64_t give_up_after_ms)
{
	if (!id || !check || !channel || !payload || !text_ok(id) || !text_ok(transition_ref) ||
	    !text_ok(check) || !text_ok(channel) || !text_ok(payload))
		return lose(w, "notification of", check, "a text is missing or not valid UTF-8");
	int failed = 0;
	json_t *row = json_object();
	if (!row)
		return lose(w, "notification of", check, OUT_OF_MEMORY);
	put(row, "id", json_string(id), &failed);
	put(row, "transition_ref",
	    transition_ref && *transition_ref ? json_string(transition_ref) : json_null(), &failed);
	put(row, "check_name", json_string(check), &failed);
	put(row, "channel", json_string(channel), &failed);
	put(row, "level", json_integer(level), &failed);
	put(row, "resolved", json_boolean(resolved), &failed);
	put(row, "payload", json_string(payload), &failed);
	put(row, "give_up_after_ms", json_integer(give_up_after_ms), &failed);
	return queue_row(w, w->notifications, row, failed, "notification of", check);
}

int aq_writes_group_member(aq_writes_t *w, const struct aq_group_member_in *m)
{
	if (!m->id || !m->check || !m->channel || !m->group_key || !m->group_labels || !m->payload ||
	    !text_ok(m->transition_ref) || !text_ok(m->check) || !text_ok(m->channel) ||
	    !text_ok(m->group_key) || !text_ok(m->group_labels) || !text_ok(m->payload))
		return lose(w, "grouped notification of", m->check, "a text is missing or not valid UTF-8");
	json_t *row = store_group_member_row(m);
	if (!row)
		return lose(w, "grouped notification of", m->check, OUT_OF_MEMORY);
	return queue_row(w, w->group_members, row, 0, "grouped notification of", m->check);
}

int aq_writes_notification_hold(aq_writes_t *w, int64_t hold_ms)
{
	size_t n = json_array_size(w->notifications);
	json_t *row = n ? json_array_get(w->notifications, n - 1) : NULL;
	if (!row)
		return 0;
	if (json_object_set_new(row, "hold_ms", json_integer(hold_ms < 0 ? 0 : hold_ms)) != 0)
		return lose(w, "notification of", json_string_value(json_object_get(row, "check_name")),
			    OUT_OF_MEMORY);
	return 0;
}

int aq_writes_offset(aq_writes_t *w, const char *topic, int32_t partition, int64_t next_offset)
{
	return aq_writes_offset_in(w, topic, partition, next_offset, NULL);
}

int aq_writes_offset_in(aq_writes_t *w, const char *topic, int32_t partition, int64_t next_offset,
			const char *cluster_id)
{
	if (!topic || !text_ok(topic) || !text_ok(cluster_id))
		return lose(w, "offset of topic", topic, "a text is missing or not valid UTF-8");
	int failed = 0;
	json_t *row = json_object();
	if (!row)
		return lose(w, "offset of topic", topic, OUT_OF_MEMORY);
	put(row, "topic", json_string(topic), &failed);
	put(row, "partition", json_integer(partition), &failed);
	put(row, "next_offset", json_integer(next_offset), &failed);
	put(row, "cluster_id", json_string(cluster_id ? cluster_id : ""), &failed);
	return queue_row(w, w->offsets, row, failed, "offset of topic", topic);
}

int aq_writes_dead_letter(aq_writes_t *w, const char *topic, int32_t partition, int64_t offset,
			  const char *reason)
{
	if (!topic || !text_ok(topic))
		return lose(w, "dead letter of topic", topic, "the topic is missing or not valid UTF-8");
	/* the reason often quotes the bad input: kept readable rather than refused */
	char *clean = aq_text_clean(reason, DEAD_LETTER_REASON_MAX, AQ_TEXT_SPACES);
	int failed = 0;
	json_t *row = clean ? json_object() : NULL;
	if (!row) {
		free(clean);
		return lose(w, "dead letter of topic", topic, OUT_OF_MEMORY);
	}
	put(row, "topic", json_string(topic), &failed);
	put(row, "partition", json_integer(partition), &failed);
	put(row, "offset", json_integer(offset), &failed);
	put(row, "reason", json_string(clean), &failed);
	free(clean);
	return queue_row(w, w->dead_letters, row, failed, "dead letter of topic", topic);
}

/* The columns aq_writes_state() writes, in order. */
#define STATE_COPY_COLUMNS                                                                                 \
	"check_name, severity, since_ms, previous_severity, pending_severity, pending_count, has_value, "  \
	"value,"                                                                                           \
	" status, message, labels, last_seen_ms, interval_ms, last_event_id, stale_at_ms, stale, episode," \
	" escalation_level, last_notified_ms, next_action_ms, told, acked, suppressed, expires_at_ms,"     \
	" annotations, flap_history, flap_count, flapping, flapping_since_ms"

/* The columns of the table the states go through: a check's columns and
 * the version of the row its state was read from (NULL: not checked). */
#define BATCH_COPY_COLUMNS STATE_COPY_COLUMNS ", seen"

/* The table the states go through (made once per connection: it outlives
 * transactions, its rows do not). */
#define STATES_TABLE                                                                           \
	"CREATE TEMP TABLE IF NOT EXISTS alertq_batch_states (check_name text, severity text," \
	" since_ms bigint, previous_severity text, pending_severity text, pending_count int,"  \
	" has_value boolean, value double precision, status text, message text, labels jsonb," \
	" last_seen_ms bigint, interval_ms bigint, last_event_id text, stale_at_ms bigint,"    \
	" stale boolean, episode bigint, escalation_level int, last_notified_ms bigint,"       \
	" next_action_ms bigint, told text[], acked boolean, suppressed boolean,"              \
	" expires_at_ms bigint, annotations jsonb, flap_history bigint, flap_count int, "      \
	"flapping boolean,"                                                                    \
	" flapping_since_ms bigint, seen xid)"                                                 \
	" ON COMMIT DELETE ROWS"

/* The table and the COPY's start in one round trip. */
#define STATES_COPY STATES_TABLE "; COPY alertq_batch_states (" BATCH_COPY_COLUMNS ") FROM STDIN"

/* How many columns BATCH_COPY_COLUMNS names. */
#define STATE_FIELDS 30

int store_states_params_max = STATES_PARAMS_MAX;

/* The rows that exist take the copied states: a plain UPDATE of known rows
 * costs the server far less than an upsert. A state read by a batch without
 * a lock replaces only the very version of the row it was read from (seen);
 * when fewer such rows were updated than the batch holds, one changed
 * meanwhile (an ack, another worker's ticker, a check removed), and
 * alertq_expect_unchanged fails the statement (SQLSTATE 40001), so nothing
 * of the batch is committed and the worker reads again. */
#define STATES_UPDATE                                                                         \
	"WITH u AS (UPDATE alertq_checks c SET severity = b.severity, since_ms = b.since_ms," \
	" pending_severity = b.pending_severity, pending_count = b.pending_count,"            \
	" has_value = b.has_value, value = b.value, status = b.status, message = b.message,"  \
	" labels = b.labels, last_seen_ms = b.last_seen_ms, interval_ms = b.interval_ms,"     \
	" last_event_id = b.last_event_id, stale_at_ms = b.stale_at_ms, stale = b.stale,"     \
	" episode = b.episode, escalation_level = b.escalation_level,"                        \
	" last_notified_ms = b.last_notified_ms, next_action_ms = b.next_action_ms, told = "  \
	"b.told,"                                                                             \
	" acked = b.acked, acked_by = CASE WHEN b.acked THEN c.acked_by END,"                 \
	" acked_at = CASE WHEN b.acked THEN c.acked_at END,"                                  \
	" ack_comment = CASE WHEN b.acked THEN c.ack_comment END, suppressed = b.suppressed," \
	" previous_severity = b.previous_severity, expires_at_ms = b.expires_at_ms,"          \
	" annotations = b.annotations,"                                                       \
	" flap_history = b.flap_history, flap_count = b.flap_count, flapping = b.flapping,"   \
	" flapping_since_ms = b.flapping_since_ms,"                                           \
	" updated_at = now()"                                                                 \
	" FROM alertq_batch_states b WHERE c.check_name = b.check_name"                       \
	" AND (b.seen IS NULL OR c.xmin = b.seen) RETURNING b.seen IS NOT NULL AS checked)"   \
	" SELECT alertq_expect_unchanged((SELECT count(*) FROM u WHERE checked),"             \
	" (SELECT count(*) FROM alertq_batch_states WHERE seen IS NOT NULL))"

/* The rest are new rows; a row made meanwhile by someone else is updated. */
#define STATES_INSERT                                                                              \
	"INSERT INTO alertq_checks (" STATE_COPY_COLUMNS ", updated_at)"                           \
	" SELECT " STATE_COPY_COLUMNS ", now() FROM alertq_batch_states b"                         \
	" WHERE NOT EXISTS (SELECT 1 FROM alertq_checks c WHERE c.check_name = b.check_name)"      \
	" ON CONFLICT (check_name) DO UPDATE SET severity = EXCLUDED.severity,"                    \
	" since_ms = EXCLUDED.since_ms, pending_severity = EXCLUDED.pending_severity,"             \
	" pending_count = EXCLUDED.pending_count, has_value = EXCLUDED.has_value,"                 \
	" value = EXCLUDED.value, status = EXCLUDED.status, message = EXCLUDED.message,"           \
	" labels = EXCLUDED.labels, last_seen_ms = EXCLUDED.last_seen_ms,"                         \
	" interval_ms = EXCLUDED.interval_ms, last_event_id = EXCLUDED.last_event_id,"             \
	" stale_at_ms = EXCLUDED.stale_at_ms, stale = EXCLUDED.stale, episode = EXCLUDED.episode," \
	" escalation_level = EXCLUDED.escalation_level,"                                           \
	" last_notified_ms = EXCLUDED.last_notified_ms, next_action_ms = EXCLUDED.next_action_ms," \
	" told = EXCLUDED.told, acked = EXCLUDED.acked,"                                           \
	" acked_by = CASE WHEN EXCLUDED.acked THEN alertq_checks.acked_by END,"                    \
	" acked_at = CASE WHEN EXCLUDED.acked THEN alertq_checks.acked_at END,"                    \
	" ack_comment = CASE WHEN EXCLUDED.acked THEN alertq_checks.ack_comment END,"              \
	" suppressed = EXCLUDED.suppressed, previous_severity = EXCLUDED.previous_severity,"       \
	" annotations = EXCLUDED.annotations,"                                                     \
	" expires_at_ms = EXCLUDED.expires_at_ms, flap_history = EXCLUDED.flap_history,"           \
	" flap_count = EXCLUDED.flap_count, flapping = EXCLUDED.flapping,"                         \
	" flapping_since_ms = EXCLUDED.flapping_since_ms, updated_at = now()"

#define TRANSITIONS_INSERT                                                                     \
	"INSERT INTO alertq_transitions (ref, check_name, from_severity, to_severity, value, " \
	"message,"                                                                             \
	" observed_at_ms, event_id, cause, annotations, flapping)"                             \
	" SELECT ref, check_name, from_severity, to_severity, value, message, observed_at_ms," \
	" event_id, cause, coalesce(annotations, '{}'), flapping"                              \
	" FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS e(doc, ord),"                \
	" jsonb_to_record(e.doc) AS x(ref uuid, check_name text, from_severity text,"          \
	" to_severity text, value double precision, message text, observed_at_ms bigint,"      \
	" event_id text, cause text, annotations jsonb, flapping text) ORDER BY e.ord"

/* held for the inhibition check (aq_writes_notification_hold) */
#define NOTIFICATIONS_INSERT                                                                  \
	"INSERT INTO alertq_notifications (id, transition_ref, check_name, channel, level, "  \
	"resolved,"                                                                           \
	" payload, give_up_at, state, next_attempt_at)"                                       \
	" SELECT id, transition_ref, check_name, channel, level, resolved, payload,"          \
	" now() + give_up_after_ms * interval '1 millisecond',"                               \
	" CASE WHEN hold_ms IS NULL THEN 'pending' ELSE 'held' END,"                          \
	" now() + coalesce(hold_ms, 0) * interval '1 millisecond'"                            \
	" FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS e(doc, ord), "              \
	"jsonb_to_record(e.doc)"                                                              \
	" AS x(id uuid, transition_ref uuid, check_name text, channel text, level int,"       \
	" resolved boolean, payload text, give_up_after_ms bigint, hold_ms bigint) ORDER BY " \
	"e.ord"

#define DEAD_LETTERS_INSERT                                                               \
	"INSERT INTO alertq_dead_letters (topic, partition, \"offset\", reason)"          \
	" SELECT topic, partition, \"offset\", reason FROM jsonb_to_recordset($1::jsonb)" \
	" AS x(topic text, partition int, \"offset\" bigint, reason text) ON CONFLICT DO NOTHING"

#define OFFSETS_WRITE                                                                          \
	"INSERT INTO alertq_offsets (topic, partition, next_offset, cluster_id)"               \
	" SELECT topic, partition, next_offset, cluster_id FROM jsonb_to_recordset($1::jsonb)" \
	" AS x(topic text, partition int, next_offset bigint, cluster_id text)"                \
	" ON CONFLICT (topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset,"    \
	" cluster_id = EXCLUDED.cluster_id, updated_at = now()"

/* Bytes of COPY text handed to libpq at a time. */
#define COPY_PIECE (64 * 1024)

/* Sends the batch's states with COPY into a temporary table, one round trip
 * for the table and the COPY's start and one for its rows: no JSON to build
 * or parse. Returns 0 or -1. */
static int copy_states(aq_store_t *s, aq_writes_t *w, char *err, size_t errlen)
{
	if (w->states.failed) {
		snprintf(err, errlen, "saving check state: out of memory");
		return -1;
	}
	PGresult *res = PQexec(s->conn, STATES_COPY);
	if (store_check_result(s, res, PGRES_COPY_IN, "saving check state", err, errlen) != 0)
		return -1;
	PQclear(res);
	/* in pieces: libpq's output buffer grows to what one call hands it and
	 * never shrinks */
	int sent = 1;
	for (size_t at = 0; sent == 1 && at < w->states.len; at += COPY_PIECE) {
		size_t piece = w->states.len - at < COPY_PIECE ? w->states.len - at : COPY_PIECE;
		sent = PQputCopyData(s->conn, w->states.data + at, (int)piece);
	}
	if (PQputCopyEnd(s->conn, sent == 1 ? NULL : "the client could not send the rows") != 1) {
		store_conn_error(s, "saving check state", err, errlen);
		s->connection_lost = PQstatus(s->conn) != CONNECTION_OK;
		return -1;
	}
	res = PQgetResult(s->conn);
	int rc = store_check_result(s, res, PGRES_COMMAND_OK, "saving check state", err, errlen);
	if (rc == 0)
		PQclear(res);
	/* the COPY's result is followed by a NULL; read it so the next query can go */
	while ((res = PQgetResult(s->conn)) != NULL)
		PQclear(res);
	return rc;
}

/* A few states as the parameters of one INSERT into alertq_batch_states,
 * which can go in the writes' pipeline where a COPY cannot (the COPY costs
 * two round trips of its own). The parameters are the COPY lines' fields
 * unescaped, so each value reaches its column's input function exactly as
 * the COPY would hand it. */
struct state_params {
	char *text;          /* the fields, unescaped in place, each NUL-ended */
	const char **values; /* STATE_FIELDS a state; NULL for \N */
	struct aq_buf sql;
	int n; /* parameters */
};

static void state_params_release(struct state_params *p)
{
	free(p->text);
	free(p->values);
	aq_buf_release(&p->sql);
}

/* Fills p from the COPY text of w's states. Returns 0, or -1 when out of
 * memory or the text is not as aq_writes_state makes it (p released). */
static int state_params_make(struct state_params *p, const aq_writes_t *w)
{
	memset(p, 0, sizeof(*p));
	aq_buf_init(&p->sql, COPY_MAX);
	p->text = malloc(w->states.len + 1);
	p->values = calloc(w->nstates * STATE_FIELDS, sizeof(*p->values));
	if (!p->text || !p->values)
		goto fail;
	memcpy(p->text, w->states.data, w->states.len + 1);
	char *in = p->text;
	size_t n = 0;
	aq_buf_puts(&p->sql, "INSERT INTO alertq_batch_states (" BATCH_COPY_COLUMNS ") VALUES ");
	for (size_t row = 0; row < w->nstates; row++) {
		aq_buf_puts(&p->sql, row ? ",(" : "(");
		for (int field = 0; field < STATE_FIELDS; field++) {
			char end = field == STATE_FIELDS - 1 ? '\n' : '\t';
			char *out = in;
			const char *value = in;
			if (in[0] == '\\' && in[1] == 'N' && (in[2] == '\t' || in[2] == '\n')) {
				value = NULL;
				in += 2;
			} else {
				while (*in && *in != '\t' && *in != '\n') {
					char c = *in++;
					if (c == '\\' && *in) {
						c = *in++;
						c = c == 't' ? '\t' : c == 'n' ? '\n' : c == 'r' ? '\r' : c;
					}
					*out++ = c;
				}
			}
			if (*in != end)
				goto fail;
			*in++ = '\0';
			*out = '\0'; /* at or before the separator */
			p->values[n++] = value;
			aq_buf_printf(&p->sql, field ? ",$%zu" : "$%zu", n);
		}
		aq_buf_puts(&p->sql, ")");
	}
	if (*in != '\0' || p->sql.failed)
		goto fail;
	p->n = (int)n;
	return 0;
fail:
	state_params_release(p);
	return -1;
}

/* A JSON array of rows as text for a statement's $1 (malloc'd), or NULL
 * for an empty array; *failed set when out of memory. */
static char *rows_text(json_t *rows, int *failed)
{
	if (json_array_size(rows) == 0)
		return NULL;
	char *text = json_dumps(rows, JSON_COMPACT | JSON_ENSURE_ASCII);
	if (!text)
		*failed = 1;
	return text;
}

/* The most statements write_all sends at once. */
#define WRITE_STEPS_MAX 10

/* The version every row this transaction writes gets (its xmin). */
#define WRITTEN_VERSION "SELECT pg_current_xact_id()::xid::text"

/* Writes everything queued, and with commit the COMMIT: the states' COPY,
 * then every other statement in one pipeline; grouped notifications (which
 * need the notifications' rows) and then the COMMIT follow on their own
 * when there are any. Returns 0 or -1 with err. */
static int write_all(aq_store_t *s, aq_writes_t *w, int commit, char *err, size_t errlen)
{
	if (w->lost > 0) {
		snprintf(err, errlen, "refusing to write a batch that lost %zu row(s); the first: %s",
			 w->lost, w->first_loss);
		s->item_refused = aq_writes_item_fault(w);
		return -1;
	}
	struct state_params params = { 0 };
	int by_params = w->nstates > 0 && w->nstates <= (size_t)store_states_params_max &&
		!w->states.failed && state_params_make(&params, w) == 0;
	if (w->nstates > 0 && !by_params && copy_states(s, w, err, errlen) != 0)
		return -1;
	int failed = 0;
	char *transitions = rows_text(w->transitions, &failed);
	char *notifications = rows_text(w->notifications, &failed);
	char *dead_letters = rows_text(w->dead_letters, &failed);
	char *offsets = rows_text(w->offsets, &failed);
	const char *p_transitions[] = { transitions };
	const char *p_notifications[] = { notifications };
	const char *p_dead_letters[] = { dead_letters };
	const char *p_offsets[] = { offsets };
	int grouped = json_array_size(w->group_members) > 0;
	struct store_step steps[WRITE_STEPS_MAX];
	size_t n = 0;
	if (by_params) {
		steps[n++] = (struct store_step){ STATES_TABLE,         0,   NULL, PGRES_COMMAND_OK,
						  "saving check state", NULL };
		steps[n++] = (struct store_step){ params.sql.data,      params.n,
						  params.values,        PGRES_COMMAND_OK,
						  "saving check state", NULL };
	}
	if (w->nstates > 0)
		steps[n++] = (struct store_step){ STATES_UPDATE,        0,   NULL, PGRES_TUPLES_OK,
						  "saving check state", NULL };
	/* a state read from its row (known) has a row, locked or not deleted:
	 * only new ones may need inserting */
	if (w->nnew > 0)
		steps[n++] = (struct store_step){ STATES_INSERT,        0,   NULL, PGRES_COMMAND_OK,
						  "saving check state", NULL };
	if (transitions)
		steps[n++] = (struct store_step){ TRANSITIONS_INSERT,   1,   p_transitions, PGRES_COMMAND_OK,
						  "saving transitions", NULL };
	if (notifications)
		steps[n++] = (struct store_step){ NOTIFICATIONS_INSERT,   1,
						  p_notifications,        PGRES_COMMAND_OK,
						  "saving notifications", NULL };
	if (dead_letters)
		steps[n++] = (struct store_step){ DEAD_LETTERS_INSERT,   1,
						  p_dead_letters,        PGRES_COMMAND_OK,
						  "saving dead letters", NULL };
	if (offsets)
		steps[n++] = (struct store_step){ OFFSETS_WRITE,    1,   p_offsets, PGRES_COMMAND_OK,
						  "saving offsets", NULL };
	PGresult *version = NULL;
	if (w->nstates > 0)
		steps[n++] = (struct store_step){ WRITTEN_VERSION,           0,       NULL, PGRES_TUPLES_OK,
						  "reading the row version", &version };
	PGresult *committed = NULL;
	if (commit && !grouped)
		steps[n++] = (struct store_step){ "COMMIT", 0, NULL, PGRES_COMMAND_OK, "COMMIT", &committed };
	int rc = 0;
	if (failed) {
		snprintf(err, errlen, "saving a batch: out of memory");
		rc = -1;
	} else if (n > 0) {
		rc = store_pipeline(s, steps, n, err, errlen);
	}
	s->written_version = 0;
	if (version) {
		if (PQntuples(version) == 1)
			s->written_version = (uint32_t)strtoul(PQgetvalue(version, 0, 0), NULL, 10);
		PQclear(version);
	}
	if (committed) {
		rc = store_committed(s, committed, err, errlen);
		PQclear(committed);
	}
	free(transitions);
	free(notifications);
	free(dead_letters);
	free(offsets);
	if (by_params)
		state_params_release(&params);
	if (rc == 0 && grouped)
		rc = aq_store_write_group_members(s, w->group_members, err, errlen);
	if (rc == 0 && grouped && commit)
		rc = aq_store_commit(s, err, errlen);
	return rc;
}

int aq_writes_item_fault(const aq_writes_t *w)
{
	return w->lost > 0 && !w->lost_to_resources;
}

const char *aq_writes_error(const aq_writes_t *w)
{
	return w->lost ? w->first_loss : "";
}

uint32_t aq_store_written_version(const aq_store_t *s)
{
	return s->written_version;
}

int aq_store_write(aq_store_t *s, aq_writes_t *w, char *err, size_t errlen)
{
	return write_all(s, w, 0, err, errlen);
}

int aq_store_write_commit(aq_store_t *s, aq_writes_t *w, char *err, size_t errlen)
{
	return write_all(s, w, 1, err, errlen);
}
