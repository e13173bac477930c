/* annotations.c - a rule's annotations rendered against a check's state at
 * each of its transitions */
#include <math.h>
#include <stdio.h>

#include "alertq/event.h"
#include "alertq/rules.h"
#include "notify/format.h"
#include "notify/template.h"

void aq_state_annotate(struct aq_state *st, const struct aq_rule *rule, struct aq_transition *tr)
{
	struct aq_template_values v = { 0 };
	v.check = st->check;
	v.severity = aq_severity_name(st->severity);
	v.previous_severity = aq_severity_name(tr->from);
	v.status = st->severity == AQ_OK ? "resolved" : "firing";
	v.message = st->message;
	if (st->has_value) {
		aq_format_value(st->value, v.value, sizeof(v.value));
		v.value_is_number = isfinite(st->value);
	}
	aq_format_time(st->since_ms, v.since, sizeof(v.since));
	aq_format_time(tr->observed_at_ms, v.observed_at, sizeof(v.observed_at));
	/* a transition starts its severity's escalation at its first level */
	snprintf(v.escalation_level, sizeof(v.escalation_level), "0");
	v.labels = st->labels;
	v.nlabels = st->nlabels;

	struct aq_label *rendered;
	size_t n;
	aq_annotations_render(rule, &v, &rendered, &n);
	aq_labels_free(st->annotations, st->nannotations);
	st->annotations = rendered;
	st->nannotations = n;
	st->dirty = 1;
	tr->annotations = st->annotations;
	tr->nannotations = st->nannotations;
}
