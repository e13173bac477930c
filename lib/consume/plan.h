/* plan.h - a plan of notifications turned into outbox rows in a
 * transaction's writes; shared by the batch applier and the ticker */
#ifndef ALERTQ_CONSUME_PLAN_H
#define ALERTQ_CONSUME_PLAN_H

#include "alertq/config.h"
#include "alertq/notify.h"
#include "alertq/rules.h"
#include "alertq/store.h"

/* Fills n with what a notification planned as p says about st (tr: the
 * transition that caused it, or NULL for a repeat or an escalation): every
 * field but notification_id. Strings and labels are borrowed from st and tr;
 * n must not outlive them. */
void aq_notification_for(struct aq_notification *n, const struct aq_state *st, const struct aq_transition *tr,
			 const struct aq_planned *p);

/* Queues in writes one outbox row per planned notification of st. tr is the
 * transition that caused them (NULL for a tick's repeats and escalations)
 * and transition_ref its history row (NULL with it). Returns 0, or -1 when
 * one could not be built or queued: the writes then refuse to be written, so
 * the caller rolls back rather than lose it. */
int aq_queue_plan(const struct aq_config *cfg, aq_writes_t *writes, const struct aq_state *st,
		  const struct aq_transition *tr, const char *transition_ref, const struct aq_plan *plan);

#endif
