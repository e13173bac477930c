/* flapping.h - the flapping window of a check: the raw severities of its
 * last results and their weighted state-change percentage (internal to
 * lib/evaluate; the unit tests use it too) */
#ifndef ALERTQ_EVALUATE_FLAPPING_H
#define ALERTQ_EVALUATE_FLAPPING_H

#include <stdint.h>

/* Results in the window: 21 results hold 20 possible changes. */
#define AQ_FLAP_WINDOW 21
#define AQ_FLAP_CHANGES (AQ_FLAP_WINDOW - 1)

/* Each result takes two bits of the history, the newest in the lowest: the
 * four severities (enum aq_status, 0..3) fit, and 21 results fit in 42 bits. */
#define AQ_FLAP_BITS 2
#define AQ_FLAP_MASK 3u

/* The window: history as above, count the results in it (0..AQ_FLAP_WINDOW). */
struct aq_flap_window {
	uint64_t history;
	int count;
};

/* Adds a result's raw severity (enum aq_status; anything else reads as
 * UNKNOWN) as the newest, dropping the oldest of a full window. */
void aq_flap_push(struct aq_flap_window *w, int severity);

/* The i-th newest severity in w (0: the newest); i < w->count. */
int aq_flap_severity_at(const struct aq_flap_window *w, int i);

/* The weighted state changes of w in units of 1/19 percent, 0 to 1900
 * (100 %): the change between the k-th and (k+1)-th result of a full window,
 * oldest first (k = 1..20), weighs 0.8 + 0.4 (k - 1) / 19, so the oldest
 * weighs 0.8, the newest 1.2 and all twenty 20; the percentage is that sum
 * over 20. A window not full yet counts what it has at its newest end, as if
 * nothing had changed before it. Kept in integers so that the worker and
 * replay compare thresholds alike everywhere. */
int aq_flap_units(const struct aq_flap_window *w);

/* aq_flap_units as a percentage (0 to 100). */
double aq_flap_percent(const struct aq_flap_window *w);

/* The worst severity in w (by aq_severity_rank); AQ_OK when it is empty. */
int aq_flap_worst(const struct aq_flap_window *w);

/* What a new percentage makes of flapping, with hysteresis: not flapping,
 * it starts at percent >= high; flapping, it stops at percent < low.
 * Returns the new flapping (0 or 1). */
int aq_flap_decide(int flapping, const struct aq_flap_window *w, double low, double high);

#endif
