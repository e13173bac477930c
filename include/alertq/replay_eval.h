/* replay_eval.h - rules evaluation without a database: results in, in
 * order, transitions and notifications out (what `alertq replay` runs) */
#ifndef ALERTQ_REPLAY_EVAL_H
#define ALERTQ_REPLAY_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "alertq/config.h"
#include "alertq/event.h"
#include "alertq/rules.h"

/* --- the evaluation: results in, transitions and notifications out --- */

/* Evaluates results in memory, every check starting at OK at the first
 * result it sees, with time taken from the results (observed_at): between
 * two results of a check, the escalation levels, repeats and staleness that
 * fall due in the gap happen at their own time. Not thread-safe. */
typedef struct aq_replay_eval aq_replay_eval_t;

/* Called for each transition, in order: st is the check's state after it,
 * plan what the channels would have been told. Everything is borrowed for
 * the call only. */
typedef int (*aq_replay_sink_fn)(void *opaque, const struct aq_state *st, const struct aq_transition *tr,
				 const struct aq_plan *plan);

/* A new evaluation under cfg's rules, escalations and channels (borrowed:
 * cfg must outlive it). sink may be NULL. Returns NULL when out of memory. */
aq_replay_eval_t *aq_replay_eval_new(const struct aq_config *cfg, aq_replay_sink_fn sink, void *opaque);
void aq_replay_eval_free(aq_replay_eval_t *ev);

/* Applies one result (r is borrowed). Returns 0, or -1 with the reason in
 * err (too many checks, or the sink's failure). */
int aq_replay_eval_apply(aq_replay_eval_t *ev, const struct aq_result *r, char *err, size_t errlen);

/* Brings every check's time-driven state up to now_ms (staleness, levels and
 * repeats that are due), as if the channels had been told: for a rebuild,
 * whose notifications were made when the results first came. Stale
 * transitions go to the sink. Returns 0 or -1 (the sink's failure). */
int aq_replay_eval_settle(aq_replay_eval_t *ev, int64_t now_ms, char *err, size_t errlen);

/* Inhibition: a notification of a check an inhibit entry targets counts
 * only if, inhibit_wait after it was planned (in the results' time), no
 * source fires; it is decided when a later result passes that time, or at
 * aq_replay_eval_finish. A target held back that way is counted again when
 * its source ends, as the worker tells it then. */

/* Decides every notification still waiting for inhibit_wait, by the states
 * as they are at the end. Call it once all results are applied, before the
 * counts are read. */
void aq_replay_eval_finish(aq_replay_eval_t *ev);

/* Counts so far. */
size_t aq_replay_eval_transitions(const aq_replay_eval_t *ev);
size_t aq_replay_eval_checks(const aq_replay_eval_t *ev);

/* The i-th check's state (i < aq_replay_eval_checks), in no particular
 * order; owned by ev. */
const struct aq_state *aq_replay_eval_state(const aq_replay_eval_t *ev, size_t i);

/* The check's state, or NULL when it has had no result. */
const struct aq_state *aq_replay_eval_find(const aq_replay_eval_t *ev, const char *check);

/* Notifications each channel would have received: every configured channel
 * (zero included), then any other name a policy used. *name is owned by ev. */
size_t aq_replay_eval_channels(const aq_replay_eval_t *ev);
long aq_replay_eval_channel(const aq_replay_eval_t *ev, size_t i, const char **name);

#endif
