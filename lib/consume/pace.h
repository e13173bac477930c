/* pace.h - waiting between attempts: sleeps that survive signals, and
 * exponential backoff with jitter */
#ifndef ALERTQ_CONSUME_PACE_H
#define ALERTQ_CONSUME_PACE_H

#include <stdint.h>

/* Sleeps ms milliseconds, going on after a signal interrupts the sleep. */
void aq_sleep_ms(int64_t ms);

/* Exponential backoff with jitter: about base * 2^attempt, capped at cap.
 * Returns a number of milliseconds between half of that and all of it. */
int64_t aq_backoff_ms(int attempt, int64_t base, int64_t cap);

#endif
