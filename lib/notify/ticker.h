/* ticker.h - the worker's ticker thread: escalation by time, repeats,
 * staleness, ends of silences */
#ifndef ALERTQ_NOTIFY_TICKER_H
#define ALERTQ_NOTIFY_TICKER_H

#include "consume/worker_internal.h"

/* The body of the ticker thread; arg is the struct worker. Every TICK_MS
 * applies what time alone changes to the checks that are due, until
 * w->threads_stop. Returns NULL. */
void *aq_ticker_main(void *arg);

#endif
