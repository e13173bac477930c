/* grouper.c - the flush of a channel's due groups: each becomes one grouped
 * message in the outbox, in the transaction that consumes what it packs */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alertq/group.h"
#include "alertq/util.h"
#include "base/failpoint.h"

/* The history note of a member the group did not send. */
#define COLLAPSED_NOTE "resolved within group_wait: nothing sent"

/* Adds the history row of member r (its fate decided) to list; note says
 * which message carried it. Returns 0 or -1 (memory). */
static int add_history(json_t *list, const struct aq_group_member_row *r, enum aq_group_fate fate,
		       const char *message_id)
{
	char note[128];
	const char *state = fate == AQ_MEMBER_COLLAPSED ? "collapsed" : "grouped";
	if (fate == AQ_MEMBER_COLLAPSED)
		snprintf(note, sizeof(note), "%s", COLLAPSED_NOTE);
	else if (fate == AQ_MEMBER_TRUNCATED)
		snprintf(note, sizeof(note), "counted in grouped message %s (over max_alerts)", message_id);
	else if (fate == AQ_MEMBER_SUPERSEDED)
		snprintf(note, sizeof(note), "superseded in grouped message %s", message_id);
	else
		snprintf(note, sizeof(note), "in grouped message %s", message_id);
	json_t *row = json_pack("{s:s, s:o, s:s, s:i, s:b, s:s, s:s, s:s}", "id", r->notification_id,
				"transition_ref",
				r->transition_ref[0] ? json_string(r->transition_ref) : json_null(),
				"check_name", r->check, "level", r->level, "resolved", r->resolved, "payload",
				r->payload, "state", state, "note", note);
	return json_array_append_new(list, row);
}

/* Flushes one claimed group. Returns 0 or -1 with err; *sent is 1 when a
 * message was queued. */
static int flush_group(aq_store_t *s, const struct aq_channel *ch, const struct aq_group_row *g, int *sent,
		       char *err, size_t errlen)
{
	struct aq_group_content c;
	struct aq_group_member *members = NULL;
	struct aq_group_alert *alerts = NULL;
	char *title = NULL, *marker = NULL, *message = NULL;
	json_t *history = json_array(), *told = json_array();
	int rc = -1;
	*sent = 0;
	if (aq_store_group_read(s, ch->name, g->key, &c, err, errlen) != 0)
		goto out;
	members = calloc(c.nmembers ? c.nmembers : 1, sizeof(*members));
	alerts = calloc(c.nalerts ? c.nalerts : 1, sizeof(*alerts));
	if (!members || !alerts || !history || !told)
		goto oom;
	for (size_t i = 0; i < c.nmembers; i++)
		members[i] = (struct aq_group_member){ .check = c.members[i].check,
						       .resolved = c.members[i].resolved,
						       .payload = c.members[i].payload };
	for (size_t i = 0; i < c.nalerts; i++)
		alerts[i] = (struct aq_group_alert){ .check = c.alerts[i].check,
						     .firing = c.alerts[i].firing,
						     .told = c.alerts[i].told };
	struct aq_group_flush f;
	int max = ch->max_alerts > 0 ? ch->max_alerts : AQ_MAX_ALERTS_DEFAULT;
	if (aq_group_decide(members, c.nmembers, alerts, c.nalerts, max, &f) != 0)
		goto oom;
	char id[37];
	aq_uuid4(id);
	struct aq_group_flushed out = { .give_up_after_ms = ch->give_up_after_ms,
					.history = history,
					.alerts = told };
	if (f.send) {
		title = aq_group_title(g->labels);
		message = aq_group_message_json(id, ch->name, g->labels, members, c.nmembers, &f);
		if (!title || !message || asprintf(&marker, "group %s", title) < 0) {
			marker = NULL;
			snprintf(err, errlen, "writing the message of group %s of channel '%s' failed",
				 g->key, ch->name);
			goto out;
		}
		out.message_id = id;
		out.message_check = marker;
		out.message_payload = message;
		out.message_resolved = f.firing == 0;
	}
	for (size_t i = 0; i < c.nmembers; i++) {
		if (c.members[i].id > out.last_member_id)
			out.last_member_id = c.members[i].id;
		if (add_history(history, &c.members[i], members[i].fate, id) != 0)
			goto oom;
	}
	for (size_t i = 0; i < c.nalerts; i++) {
		json_t *row = json_pack("{s:s, s:b, s:b}", "check_name", alerts[i].check, "told",
					alerts[i].told, "gone", alerts[i].gone);
		if (json_array_append_new(told, row) != 0)
			goto oom;
	}
	if (aq_store_group_flushed(s, ch->name, g->key, &out, err, errlen) != 0)
		goto out;
	*sent = f.send;
	rc = 0;
	goto out;
oom:
	snprintf(err, errlen, "flushing a group of channel '%s': out of memory", ch->name);
out:
	aq_group_content_release(&c);
	free(members);
	free(alerts);
	free(title);
	free(marker);
	free(message);
	json_decref(history);
	json_decref(told);
	return rc;
}

int aq_grouper_flush(aq_store_t *s, const struct aq_channel *ch, int max, size_t *flushed, char *err,
		     size_t errlen)
{
	struct aq_group_row *groups = NULL;
	size_t n = 0;
	*flushed = 0;
	if (aq_store_begin(s, err, errlen) != 0)
		return -1;
	if (aq_store_due_groups(s, ch->name, max, &groups, &n, err, errlen) != 0)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		int sent;
		if (flush_group(s, ch, &groups[i], &sent, err, errlen) != 0)
			goto fail;
		*flushed += (size_t)sent;
	}
	aq_group_rows_free(groups, n);
	groups = NULL;
	if (n == 0) {
		aq_store_rollback(s);
		return 0;
	}
	if (AQ_FAILPOINT("group.before_commit") != 0) {
		snprintf(err, errlen, "failpoint group.before_commit");
		n = 0;
		goto fail;
	}
	return aq_store_commit(s, err, errlen);
fail:
	aq_group_rows_free(groups, n);
	aq_store_rollback(s);
	*flushed = 0;
	return -1;
}
