/* group_replay.h - grouped delivery simulated on the results' own time, so
 * `replay --dry-run` counts the messages a grouped channel would have sent */
#ifndef ALERTQ_EVALUATE_GROUP_REPLAY_H
#define ALERTQ_EVALUATE_GROUP_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "alertq/config.h"
#include "alertq/rules.h"

/* The groups of every grouped channel, their members and timers, as the
 * workers keep them in the database (lib/store/groups.c, grouper.c): a new
 * group flushes group_wait after its first notification, one that has sent
 * no sooner than group_interval after its last message, one none of whose
 * alerts fires at once; an alert that fired and resolved before its group
 * told it sends nothing. */
struct group_replay;

/* NULL when out of memory. */
struct group_replay *group_replay_new(void);
void group_replay_free(struct group_replay *g);

/* Flushes every group whose timer is due at or before at_ms. */
void group_replay_advance(struct group_replay *g, int64_t at_ms);

/* A notification of st (firing or resolved) for grouped channel ch at
 * at_ms joins its group. Returns 0, or -1 when out of memory. */
int group_replay_add(struct group_replay *g, const struct aq_channel *ch, const struct aq_state *st,
		     int resolved, int64_t at_ms);

/* Flushes every group still waiting, as if its timer ran out. */
void group_replay_finish(struct group_replay *g);

/* Messages sent so far on the channel named. */
long group_replay_count(const struct group_replay *g, const char *channel);

#endif
