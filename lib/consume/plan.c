/* plan.c - a plan of notifications turned into outbox rows in a
 * transaction's writes; shared by the batch applier and the ticker */
#include "consume/plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alertq/group.h"
#include "alertq/notify.h"
#include "alertq/util.h"

void aq_notification_for(struct aq_notification *n, const struct aq_state *st, const struct aq_transition *tr,
			 const struct aq_planned *p)
{
	memset(n, 0, sizeof(*n));
	n->check = st->check;
	n->resolved = p->resolved;
	n->severity = st->severity;
	n->previous_severity = tr ? tr->from : st->previous_severity;
	n->has_value = st->has_value;
	n->value = st->value;
	n->message = st->message;
	n->labels = st->labels;
	n->nlabels = st->nlabels;
	n->observed_at_ms = tr ? tr->observed_at_ms : st->last_seen_ms;
	n->since_ms = st->since_ms;
	n->escalation_level = p->level;
	snprintf(n->event_id, sizeof(n->event_id), "%s", tr ? tr->event_id : st->last_event_id);
	/* annotations: the current episode's, for repeats and resolved too */
	n->annotations = st->annotations;
	n->nannotations = st->nannotations;
	/* flapping: told at the severity it flaps at (see aq_plan_transition) */
	n->flapping = p->flapping;
	n->flapping_started = p->flapping_started;
	if (p->flapping)
		n->severity = p->flap_severity;
}

/* Queues a notification of a channel with group_by into its group (the
 * flush makes the outbox row). Returns 0 or -1. */
static int queue_grouped(const struct aq_channel *ch, aq_writes_t *writes, const struct aq_state *st,
			 const char *transition_ref, const struct aq_planned *p, const char *id,
			 const char *payload)
{
	char *key, *labels;
	if (aq_group_of(ch, st->check, st->labels, st->nlabels, &key, &labels) != 0)
		return -1;
	struct aq_group_member_in m = {
		.id = id,
		.transition_ref = transition_ref,
		.check = st->check,
		.channel = ch->name,
		.group_key = key,
		.group_labels = labels,
		.level = p->level,
		.resolved = p->resolved,
		.payload = payload,
		.group_wait_ms = ch->group_wait_ms,
		.group_interval_ms = ch->group_interval_ms,
	};
	int rc = aq_writes_group_member(writes, &m);
	free(key);
	free(labels);
	return rc;
}

/* Builds a notification for st as planned, queues it in the outbox.
 * Returns 0, or -1 when it could not be built or queued (the writes then
 * refuse to be written: nothing is lost silently). */
static int queue_notification(const struct aq_config *cfg, aq_writes_t *writes, const struct aq_state *st,
			      const struct aq_transition *tr, const char *transition_ref,
			      const struct aq_planned *p)
{
	const struct aq_channel *ch = aq_config_channel(cfg, p->channel);
	struct aq_notification n;
	aq_notification_for(&n, st, tr, p);
	aq_uuid4(n.notification_id);
	char *payload = aq_notification_to_json(&n);
	if (!payload)
		return -1;
	/* a possible inhibition target is held in the outbox even on a grouped
	 * channel: the dispatcher decides it, then sends it on into its group */
	int target = aq_inhibit_any_target(cfg, st->check, st->labels, st->nlabels);
	if (ch && ch->grouped && !target) {
		int rc = queue_grouped(ch, writes, st, transition_ref, p, n.notification_id, payload);
		free(payload);
		return rc;
	}
	int rc = aq_writes_notification(writes, n.notification_id, transition_ref, st->check, p->channel,
					p->level, p->resolved, payload,
					ch ? ch->give_up_after_ms : 24LL * 3600 * 1000);
	free(payload);
	/* a possible inhibition target: a transition's news waits inhibit_wait
	 * for a source whose result may still be on its way; a tick's (a
	 * level, a repeat, a release) is only checked */
	if (rc == 0 && target)
		rc = aq_writes_notification_hold(writes, tr ? cfg->inhibit_wait_ms : 0);
	return rc;
}

int aq_queue_plan(const struct aq_config *cfg, aq_writes_t *writes, const struct aq_state *st,
		  const struct aq_transition *tr, const char *transition_ref, const struct aq_plan *plan)
{
	for (size_t i = 0; i < plan->n; i++)
		if (queue_notification(cfg, writes, st, tr, transition_ref, &plan->items[i]) != 0)
			return -1;
	return 0;
}
