/* flapping.c - the flapping window of a check and its weighted
 * state-change percentage (Nagios and Icinga's flap detection) */
#include "evaluate/flapping.h"

#include "alertq/event.h"
#include "alertq/rules.h"

/* The weights in units of 1/95: 0.8 = 76/95 for the oldest change, then two
 * more a step, 1.2 = 114/95 for the newest; units of 1/19 percent follow,
 * as the percentage is 100 / 20 times the sum of weights (100 / (20 * 95) = 1/19). */
#define OLDEST_WEIGHT 76
#define WEIGHT_STEP 2

void aq_flap_push(struct aq_flap_window *w, int severity)
{
	unsigned code = severity >= AQ_OK && severity <= AQ_UNKNOWN ? (unsigned)severity
								    : (unsigned)AQ_UNKNOWN;
	uint64_t keep = ((uint64_t)1 << (AQ_FLAP_BITS * AQ_FLAP_WINDOW)) - 1;
	w->history = ((w->history << AQ_FLAP_BITS) | code) & keep;
	if (w->count < AQ_FLAP_WINDOW)
		w->count++;
}

int aq_flap_severity_at(const struct aq_flap_window *w, int i)
{
	return (int)((w->history >> (AQ_FLAP_BITS * i)) & AQ_FLAP_MASK);
}

int aq_flap_units(const struct aq_flap_window *w)
{
	int count = w->count < AQ_FLAP_WINDOW ? w->count : AQ_FLAP_WINDOW;
	int units = 0;
	/* i = 0 is the newest change: between the newest result and the one before */
	for (int i = 0; i + 1 < count; i++) {
		if (aq_flap_severity_at(w, i) == aq_flap_severity_at(w, i + 1))
			continue;
		int k = AQ_FLAP_CHANGES - i; /* 20 for the newest change, 1 for the oldest */
		units += OLDEST_WEIGHT + WEIGHT_STEP * (k - 1);
	}
	return units;
}

double aq_flap_percent(const struct aq_flap_window *w)
{
	return aq_flap_units(w) / 19.0;
}

int aq_flap_worst(const struct aq_flap_window *w)
{
	int worst = AQ_OK;
	for (int i = 0; i < w->count && i < AQ_FLAP_WINDOW; i++) {
		int severity = aq_flap_severity_at(w, i);
		if (aq_severity_rank(severity) > aq_severity_rank(worst))
			worst = severity;
	}
	return worst;
}

int aq_flap_decide(int flapping, const struct aq_flap_window *w, double low, double high)
{
	/* units / 19 against a percentage: compare units with percentage * 19 */
	double units = aq_flap_units(w);
	if (flapping)
		return units >= low * 19.0;
	return units >= high * 19.0;
}
