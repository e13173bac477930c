/* rules.h - applying rules to results: per-check state, transitions, and the
 * escalation plan (which channels to tell, and when) */
#ifndef ALERTQ_RULES_H
#define ALERTQ_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "alertq/config.h"
#include "alertq/event.h"

/* Severities ordered by how bad they are: OK < WARNING < UNKNOWN < CRITICAL. */
int aq_severity_rank(int severity);

/* The state alertq keeps for one check. Owned strings are freed by
 * aq_state_release(). A check seen for the first time starts zeroed with
 * aq_state_init(): severity OK. */
struct aq_state {
	char *check;
	int known; /* 1: a row exists in the store */
	int severity;
	int previous_severity; /* the severity before the last transition */
	int64_t since_ms;      /* when it entered its severity (observed_at of that result) */
	int pending_severity;  /* AQ_STATUS_NONE, or where a streak of worse results leads */
	int pending_count;
	/* the last result */
	int has_value;
	double value;
	int status;
	char *message;
	struct aq_label *labels;
	size_t nlabels;
	int64_t last_seen_ms; /* observed_at */
	int64_t interval_ms;
	char last_event_id[37];
	int64_t stale_at_ms;   /* 0: never stale */
	int stale;             /* 1: the current severity came from staleness */
	int64_t expires_at_ms; /* the last result's expires_at: not OK past it, the check resolves; 0: never */
	/* the current episode (a stretch away from OK) */
	int64_t episode;
	int escalation_level; /* highest level told in this severity, -1 none */
	int64_t last_notified_ms;
	int64_t next_action_ms; /* next escalation level or repeat; 0 none */
	char **told;            /* channels told in this episode (for resolved) */
	size_t ntold;
	int acked;
	int suppressed; /* a notification was held back by a silence */
	int dirty;      /* changed since loaded */
	/* the rule's annotations rendered at the last transition (the current
	 * episode's), owned */
	struct aq_label *annotations;
	size_t nannotations;
	/* flapping (rules with `flapping:`): the raw severities of the last
	 * results, two bits each, the newest lowest (see evaluate/flapping.h) */
	uint64_t flap_history;
	int flap_count;            /* results in flap_history, 0..21 */
	int flapping;              /* 1: flapping now */
	int64_t flapping_since_ms; /* when it started to flap (observed_at); 0 when not flapping */
	/* inhibition: the source check whose firing holds this one's
	 * notifications back, or NULL. The dispatcher and the ticker set it in
	 * the store (aq_writes_state does not write it); a state with it is
	 * planned as silenced. */
	char *inhibited_by;
	/* the version of the row a worker's batch read it from (PostgreSQL's
	 * xmin), read without a lock: the batch writes it back only over that
	 * very version (a row changed meanwhile, by an ack or another worker's
	 * ticker, fails the batch, which reads again). 0: read under a lock or
	 * not read, written back as it is. */
	uint32_t row_version;
};

void aq_state_init(struct aq_state *st, const char *check);
void aq_state_release(struct aq_state *st);

/* What a result did to flapping. */
enum aq_flap_change {
	AQ_FLAP_SAME = 0, /* started or stopped nothing */
	AQ_FLAP_STARTED,
	AQ_FLAP_STOPPED
};

/* A change of severity, or of flapping (then from == to). */
struct aq_transition {
	int from;
	int to;
	int has_value;
	double value;
	int64_t observed_at_ms;
	const char *message; /* borrowed from the result or state */
	const char *event_id;
	int stale;   /* caused by missing results, not by a result */
	int expired; /* caused by the last result's expires_at passing */
	/* the annotations rendered for it, borrowed from the state */
	const struct aq_label *annotations;
	size_t nannotations;
	/* flapping */
	enum aq_flap_change flap;
	int flapping; /* 1: the check flaps after this transition */
};

/* Why a transition happened, as history records it: "result", "stale" or
 * "expired". Never NULL. */
const char *aq_transition_cause(const struct aq_transition *tr);

/* Renders rule's annotations (none when rule is NULL or has none) against
 * st as the transition tr left it, replacing st's, and points tr at them.
 * The transitions below call it; replay and tests may too. */
void aq_state_annotate(struct aq_state *st, const struct aq_rule *rule, struct aq_transition *tr);
/* What history says of flapping at a transition: "started", "stopped",
 * "flapping" (it flaps and goes on flapping) or "" (it does not flap).
 * Never NULL. */
const char *aq_transition_flapping(const struct aq_transition *tr);

/* The severity a result has under rule (NULL: no rule matched, the result's
 * own status). With thresholds: a result without a value, or with status
 * UNKNOWN, is UNKNOWN; else critical, then warning, else OK. Without
 * thresholds: the result's status (null status is UNKNOWN). */
int aq_rule_severity(const struct aq_rule *rule, const struct aq_result *r);

/* The escalation policy rule names in cfg; NULL when rule is NULL, names
 * none, or names one cfg does not have. The pointer lives as long as cfg. */
const struct aq_escalation *aq_rule_policy(const struct aq_config *cfg, const struct aq_rule *rule);

/* Applies one result to st: the last-result fields, the streak that `for`
 * counts, staleness deadline, the severity, and (when the rule sets
 * `flapping:`) the flapping window of raw severities. Worse needs
 * rule->for_count consecutive worse results; better takes one. Returns 1
 * and fills tr when the severity changed or flapping started or stopped
 * (tr->flap; tr->from == tr->to when only flapping changed), 0 otherwise.
 * st keeps pointers to nothing in r. */
int aq_state_apply(struct aq_state *st, const struct aq_rule *rule, const struct aq_result *r,
		   struct aq_transition *tr);

/* When a check with this state and rule goes stale (0: never). */
int64_t aq_stale_deadline(const struct aq_rule *rule, int64_t last_seen_ms, int64_t interval_ms);

/* Marks st stale at now: returns 1 and fills tr when that changes its
 * severity (to the rule's stale_severity), 0 when it was already there. */
int aq_state_go_stale(struct aq_state *st, const struct aq_rule *rule, int64_t now_ms,
		      struct aq_transition *tr);

/* Expires st at now_ms, whatever its expires_at (callers test it, or use
 * aq_state_time_step): the last result no longer holds, so a check not OK
 * goes OK (tr->expired set), any streak of worse results is dropped, and no
 * staleness is due until the next result. Returns 1 and fills tr when that
 * changes its severity, 0 when it was OK already. */
int aq_state_expire(struct aq_state *st, int64_t now_ms, struct aq_transition *tr);

/* How many times to call aq_state_time_step at one instant: each call
 * consumes at most one deadline, and there are two kinds. */
#define AQ_STATE_TIME_STEPS 2

/* The next time-driven change of severity due by now_ms, for the ticker and
 * replay alike: staleness (stale_at_ms) or expiry (expires_at_ms), the
 * earlier deadline first (expiry when they are equal). The deadline is
 * consumed whether or not the severity changes. Returns 1 and fills tr when
 * it changed, else 0 (nothing due, or nothing changed). */
int aq_state_time_step(struct aq_state *st, const struct aq_rule *rule, int64_t now_ms,
		       struct aq_transition *tr);

/* The earliest time-driven deadline of st: staleness, expiry, the next
 * escalation or repeat; 0 when none. */
int64_t aq_state_next_deadline(const struct aq_state *st);

/* One notification to make: channel `channel` told about the state. */
struct aq_planned {
	char channel[256];
	int level;
	int resolved;
	/* flapping: see aq_plan_transition */
	int flapping;         /* 1: sent while the check flaps ("flapping": true) */
	int flapping_started; /* 1: status "flapping": it has started to flap */
	int flap_severity;    /* with flapping: the severity told (the worst it flaps at) */
};

#define AQ_PLAN_MAX 64
struct aq_plan {
	struct aq_planned items[AQ_PLAN_MAX];
	size_t n;
};

/* After a transition, decides what to tell now under policy (NULL: nothing)
 * and updates st's episode fields (new episode from OK, levels due now, the
 * next escalation time, channels told; resolved to every channel told when it
 * returns to OK and the policy says so). silenced: hold notifications back
 * and remember that some were (st->suppressed).
 * Flapping: when it starts (tr->flap), one notification with status
 * "flapping" to every channel told in the episode and level 0 of the worst
 * severity in the window, whose levels then run from the time it started;
 * while it flaps, nothing (the episode stays open through OK); when it
 * stops, the real state as a transition to it would (firing at its
 * severity under the policy, timed from since_ms, or resolved). */
void aq_plan_transition(struct aq_state *st, const struct aq_escalation *policy,
			const struct aq_transition *tr, int64_t now_ms, int silenced, struct aq_plan *plan);

/* Time-driven: levels whose `after` has passed and repeats that are due,
 * unless acknowledged; when a silence has ended (silenced 0) and
 * notifications were held back, tells the current level's channels now.
 * Updates st like aq_plan_transition. While the check flaps, levels and
 * repeats go on under the worst severity in the window, timed from when it
 * started to flap, even at moments its severity is OK; they are "firing" at
 * that severity, marked flapping. */
void aq_plan_tick(struct aq_state *st, const struct aq_escalation *policy, int64_t now_ms, int silenced,
		  struct aq_plan *plan);

/* Acknowledges the current episode: no more escalation or repeats. */
void aq_state_ack(struct aq_state *st);

#endif
