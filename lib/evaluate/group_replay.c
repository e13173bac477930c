/* group_replay.c - grouped delivery simulated on the results' own time, so
 * `replay --dry-run` counts the messages a grouped channel would have sent */
#include "evaluate/group_replay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alertq/group.h"
#include "base/strmap.h"

struct replay_member {
	char *check;
	int resolved;
};

struct replay_alert {
	char *check;
	int firing;
	int told;
};

struct replay_group {
	char *id; /* channel, a newline, the group key: the index's key */
	const struct aq_channel *ch;
	int64_t next_flush_ms; /* 0: nothing waiting */
	int64_t last_sent_ms;  /* 0: never sent since the group began */
	struct replay_member *members;
	size_t nmembers;
	struct replay_alert *alerts;
	size_t nalerts;
};

struct replay_count {
	char *channel;
	long messages;
};

struct group_replay {
	struct replay_group *groups;
	size_t ngroups;
	size_t capacity;
	struct aq_strmap index;
	struct replay_count *counts;
	size_t ncounts;
};

struct group_replay *group_replay_new(void)
{
	struct group_replay *g = calloc(1, sizeof(*g));
	if (g)
		aq_strmap_init(&g->index);
	return g;
}

static void clear_members(struct replay_group *gr)
{
	for (size_t i = 0; i < gr->nmembers; i++)
		free(gr->members[i].check);
	gr->nmembers = 0;
}

void group_replay_free(struct group_replay *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->ngroups; i++) {
		struct replay_group *gr = &g->groups[i];
		clear_members(gr);
		for (size_t k = 0; k < gr->nalerts; k++)
			free(gr->alerts[k].check);
		free(gr->members);
		free(gr->alerts);
		free(gr->id);
	}
	for (size_t i = 0; i < g->ncounts; i++)
		free(g->counts[i].channel);
	free(g->counts);
	free(g->groups);
	aq_strmap_release(&g->index);
	free(g);
}

static void count_message(struct group_replay *g, const char *channel)
{
	for (size_t i = 0; i < g->ncounts; i++)
		if (strcmp(g->counts[i].channel, channel) == 0) {
			g->counts[i].messages++;
			return;
		}
	struct replay_count *grown = realloc(g->counts, (g->ncounts + 1) * sizeof(*grown));
	if (!grown)
		return;
	g->counts = grown;
	g->counts[g->ncounts].channel = aq_strdup(channel);
	g->counts[g->ncounts].messages = 1;
	g->ncounts++;
}

/* One flush of gr at at_ms, as grouper.c does it. */
static void flush(struct group_replay *g, struct replay_group *gr, int64_t at_ms)
{
	struct aq_group_member *members = calloc(gr->nmembers ? gr->nmembers : 1, sizeof(*members));
	struct aq_group_alert *alerts = calloc(gr->nalerts ? gr->nalerts : 1, sizeof(*alerts));
	struct aq_group_flush f;
	if (!members || !alerts)
		goto out;
	for (size_t i = 0; i < gr->nmembers; i++)
		members[i] = (struct aq_group_member){ .check = gr->members[i].check,
						       .resolved = gr->members[i].resolved };
	for (size_t i = 0; i < gr->nalerts; i++)
		alerts[i] = (struct aq_group_alert){ .check = gr->alerts[i].check,
						     .firing = gr->alerts[i].firing,
						     .told = gr->alerts[i].told };
	int max = gr->ch->max_alerts > 0 ? gr->ch->max_alerts : AQ_MAX_ALERTS_DEFAULT;
	if (aq_group_decide(members, gr->nmembers, alerts, gr->nalerts, max, &f) != 0)
		goto out;
	if (f.send) {
		count_message(g, gr->ch->name);
		gr->last_sent_ms = at_ms;
	}
	size_t kept = 0;
	for (size_t i = 0; i < gr->nalerts; i++) {
		if (alerts[i].gone) {
			free(gr->alerts[i].check);
			continue;
		}
		gr->alerts[i].told = alerts[i].told;
		gr->alerts[kept++] = gr->alerts[i];
	}
	gr->nalerts = kept;
	clear_members(gr);
	gr->next_flush_ms = 0;
	/* a group with nothing firing is done: the next alert starts a new one */
	if (f.firing == 0)
		gr->last_sent_ms = 0;
out:
	free(members);
	free(alerts);
}

void group_replay_advance(struct group_replay *g, int64_t at_ms)
{
	for (size_t i = 0; i < g->ngroups; i++) {
		struct replay_group *gr = &g->groups[i];
		if (gr->next_flush_ms > 0 && gr->next_flush_ms <= at_ms)
			flush(g, gr, gr->next_flush_ms);
	}
}

void group_replay_finish(struct group_replay *g)
{
	for (size_t i = 0; i < g->ngroups; i++) {
		struct replay_group *gr = &g->groups[i];
		if (gr->next_flush_ms > 0)
			flush(g, gr, gr->next_flush_ms);
	}
}

long group_replay_count(const struct group_replay *g, const char *channel)
{
	for (size_t i = 0; i < g->ncounts; i++)
		if (strcmp(g->counts[i].channel, channel) == 0)
			return g->counts[i].messages;
	return 0;
}

/* The group named id, made when new; NULL when out of memory. */
static struct replay_group *group_for(struct group_replay *g, const struct aq_channel *ch, char *id)
{
	size_t found;
	if (aq_strmap_get(&g->index, id, &found)) {
		free(id);
		return &g->groups[found];
	}
	if (g->ngroups == g->capacity) {
		size_t capacity = g->capacity ? 2 * g->capacity : 16;
		struct replay_group *grown = realloc(g->groups, capacity * sizeof(*grown));
		if (!grown || aq_strmap_reserve(&g->index, capacity) != 0) {
			if (grown)
				g->groups = grown;
			free(id);
			return NULL;
		}
		g->groups = grown;
		g->capacity = capacity;
	}
	struct replay_group *gr = &g->groups[g->ngroups];
	memset(gr, 0, sizeof(*gr));
	gr->id = id;
	gr->ch = ch;
	aq_strmap_put(&g->index, gr->id, g->ngroups, NULL);
	g->ngroups++;
	return gr;
}

int group_replay_add(struct group_replay *g, const struct aq_channel *ch, const struct aq_state *st,
		     int resolved, int64_t at_ms)
{
	char *key, *labels, *id = NULL;
	if (aq_group_of(ch, st->check, st->labels, st->nlabels, &key, &labels) != 0)
		return -1;
	int rc = asprintf(&id, "%s\n%s", ch->name, key);
	free(key);
	free(labels);
	if (rc < 0)
		return -1;
	struct replay_group *gr = group_for(g, ch, id);
	if (!gr)
		return -1;
	struct replay_member *members = realloc(gr->members, (gr->nmembers + 1) * sizeof(*members));
	if (!members)
		return -1;
	gr->members = members;
	struct replay_alert *a = NULL;
	for (size_t i = 0; i < gr->nalerts && !a; i++)
		if (strcmp(gr->alerts[i].check, st->check) == 0)
			a = &gr->alerts[i];
	if (!a) {
		struct replay_alert *alerts = realloc(gr->alerts, (gr->nalerts + 1) * sizeof(*alerts));
		if (!alerts)
			return -1;
		gr->alerts = alerts;
		a = &gr->alerts[gr->nalerts++];
		*a = (struct replay_alert){ .check = aq_strdup(st->check) };
	}
	a->firing = !resolved;
	gr->members[gr->nmembers++] = (struct replay_member){ .check = aq_strdup(st->check),
							      .resolved = resolved };
	int any_firing = 0;
	for (size_t i = 0; i < gr->nalerts; i++)
		any_firing |= gr->alerts[i].firing;
	if (!any_firing) {
		gr->next_flush_ms = at_ms;
	} else if (gr->next_flush_ms == 0 && gr->last_sent_ms == 0) {
		gr->next_flush_ms = at_ms + ch->group_wait_ms;
	} else if (gr->next_flush_ms == 0) {
		int64_t after_interval = gr->last_sent_ms + ch->group_interval_ms;
		gr->next_flush_ms = after_interval > at_ms ? after_interval : at_ms;
	}
	/* 0 means nothing waiting: a result at the epoch still flushes */
	if (gr->next_flush_ms <= 0)
		gr->next_flush_ms = 1;
	return 0;
}
