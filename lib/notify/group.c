/* group.c - grouped delivery's rules: the group a notification joins, what
 * a group's flush tells, and the grouped message it sends */
#include "alertq/group.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"

/* A JSON string for s; text that is not UTF-8 is cleaned, as jansson takes
 * only valid text. NULL when memory runs out. */
static json_t *text_json(const char *s)
{
	if (aq_utf8_valid(s, strlen(s)))
		return json_string(s);
	char *clean = aq_text_clean(s, strlen(s) * 3, AQ_TEXT_NEWLINES);
	json_t *v = clean ? json_string(clean) : NULL;
	free(clean);
	return v;
}

int aq_group_of(const struct aq_channel *ch, const char *check, const struct aq_label *labels, size_t nlabels,
		char **key, char **labels_json)
{
	*key = NULL;
	*labels_json = NULL;
	json_t *values = json_array();
	json_t *named = json_object();
	int failed = !values || !named;
	for (size_t i = 0; !failed && i < ch->ngroup_by; i++) {
		const char *name = ch->group_by[i];
		const char *value = "";
		if (strcmp(name, AQ_GROUP_BY_CHECK) == 0) {
			value = check;
		} else {
			for (size_t k = 0; k < nlabels; k++)
				if (labels[k].key && strcmp(labels[k].key, name) == 0)
					value = labels[k].value ? labels[k].value : "";
		}
		json_t *v = text_json(value);
		failed |= json_array_append(values, v) != 0;
		failed |= json_object_set_new(named, name, v) != 0;
	}
	if (!failed) {
		*key = json_dumps(values, JSON_COMPACT | JSON_ENSURE_ASCII);
		*labels_json = json_dumps(named, JSON_COMPACT | JSON_PRESERVE_ORDER);
	}
	json_decref(values);
	json_decref(named);
	if (!*key || !*labels_json) {
		free(*key);
		free(*labels_json);
		*key = NULL;
		*labels_json = NULL;
		return -1;
	}
	return 0;
}

/* The sort of members for a flush: by check, then by arrival. */
struct order {
	const struct aq_group_member *members;
	size_t index;
};

static int by_check_then_arrival(const void *a, const void *b)
{
	const struct order *x = a, *y = b;
	int c = strcmp(x->members[x->index].check, y->members[y->index].check);
	if (c != 0)
		return c;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* The listing order of decided members: new firing, still firing, resolved;
 * by check name within each. */
static int listing_rank(const struct aq_group_member *m)
{
	return m->resolved ? 2 : m->was_told ? 1 : 0;
}

static int by_listing(const void *a, const void *b)
{
	const struct order *x = a, *y = b;
	const struct aq_group_member *p = &x->members[x->index], *q = &y->members[y->index];
	int r = listing_rank(p) - listing_rank(q);
	if (r != 0)
		return r;
	return strcmp(p->check, q->check);
}

static struct aq_group_alert *find_alert(struct aq_group_alert *alerts, size_t nalerts, const char *check)
{
	for (size_t i = 0; i < nalerts; i++)
		if (strcmp(alerts[i].check, check) == 0)
			return &alerts[i];
	return NULL;
}

int aq_group_decide(struct aq_group_member *members, size_t nmembers, struct aq_group_alert *alerts,
		    size_t nalerts, int max_alerts, struct aq_group_flush *out)
{
	memset(out, 0, sizeof(*out));
	struct order *sorted = calloc(nmembers ? nmembers : 1, sizeof(*sorted));
	struct order *latest = calloc(nmembers ? nmembers : 1, sizeof(*latest));
	if (!sorted || !latest) {
		free(sorted);
		free(latest);
		return -1;
	}
	for (size_t i = 0; i < nmembers; i++)
		sorted[i] = (struct order){ members, i };
	qsort(sorted, nmembers, sizeof(*sorted), by_check_then_arrival);
	size_t nlatest = 0;
	for (size_t i = 0; i < nmembers; i++) {
		struct aq_group_member *m = &members[sorted[i].index];
		int last = i + 1 == nmembers || strcmp(members[sorted[i + 1].index].check, m->check) != 0;
		struct aq_group_alert *a = find_alert(alerts, nalerts, m->check);
		m->was_told = a && a->told;
		m->fate = AQ_MEMBER_SUPERSEDED;
		if (last)
			latest[nlatest++] = sorted[i];
	}
	/* an alert the group never told firing that has resolved since: none of
	 * its members is sent */
	size_t kept = 0;
	for (size_t i = 0; i < nlatest; i++) {
		struct aq_group_member *m = &members[latest[i].index];
		if (m->resolved && !m->was_told) {
			for (size_t k = 0; k < nmembers; k++)
				if (strcmp(members[k].check, m->check) == 0) {
					members[k].fate = AQ_MEMBER_COLLAPSED;
					out->collapsed++;
				}
			continue;
		}
		latest[kept++] = latest[i];
	}
	qsort(latest, kept, sizeof(*latest), by_listing);
	for (size_t i = 0; i < kept; i++) {
		struct aq_group_member *m = &members[latest[i].index];
		if ((int)out->listed < max_alerts) {
			m->fate = AQ_MEMBER_LISTED;
			out->listed++;
		} else {
			m->fate = AQ_MEMBER_TRUNCATED;
			out->truncated++;
		}
		if (m->resolved)
			out->resolved++;
	}
	/* what the group knows after the message */
	for (size_t i = 0; i < nalerts; i++) {
		struct aq_group_alert *a = &alerts[i];
		int has_members = 0;
		for (size_t k = 0; k < nmembers && !has_members; k++)
			has_members = strcmp(members[k].check, a->check) == 0;
		if (has_members)
			a->told = a->firing;
		a->gone = !a->firing;
		if (a->firing)
			out->firing++;
	}
	out->send = out->listed + out->truncated > 0;
	free(sorted);
	free(latest);
	return 0;
}

char *aq_group_message_json(const char *notification_id, const char *channel, const char *labels_json,
			    const struct aq_group_member *members, size_t nmembers,
			    const struct aq_group_flush *f)
{
	char *out = NULL;
	struct order *listed = calloc(nmembers ? nmembers : 1, sizeof(*listed));
	json_t *root = json_object();
	json_t *alerts = json_array();
	json_t *group = json_loads(labels_json, 0, NULL);
	if (!listed || !root || !alerts || !json_is_object(group)) {
		json_decref(alerts);
		goto done;
	}
	size_t n = 0;
	for (size_t i = 0; i < nmembers; i++)
		if (members[i].fate == AQ_MEMBER_LISTED)
			listed[n++] = (struct order){ members, i };
	qsort(listed, n, sizeof(*listed), by_listing);
	int failed = 0;
	for (size_t i = 0; i < n && !failed; i++) {
		json_t *alert = json_loads(members[listed[i].index].payload, 0, NULL);
		failed = !json_is_object(alert) || json_array_append_new(alerts, alert) != 0;
	}
	failed |= json_object_set_new(root, "notification_id", json_string(notification_id)) != 0;
	failed |= json_object_set_new(root, "channel", text_json(channel)) != 0;
	failed |= json_object_set(root, "group", group) != 0;
	failed |= json_object_set_new(root, "firing", json_integer((json_int_t)f->firing)) != 0;
	failed |= json_object_set_new(root, "resolved", json_integer((json_int_t)f->resolved)) != 0;
	failed |= json_object_set_new(root, "alerts", alerts) != 0;
	failed |= json_object_set_new(root, "truncated", json_integer((json_int_t)f->truncated)) != 0;
	if (!failed)
		out = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
done:
	json_decref(group);
	json_decref(root);
	free(listed);
	return out;
}
