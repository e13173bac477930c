/* dispatcher.h - the worker's delivery threads: one per channel, claiming
 * outbox rows and delivering them */
#ifndef ALERTQ_NOTIFY_DISPATCHER_H
#define ALERTQ_NOTIFY_DISPATCHER_H

#include "consume/worker_internal.h"

/* The body of a dispatcher thread; arg is its struct dispatcher. Claims and
 * delivers the rows of its channel until w->threads_stop, reconnecting to
 * the state database with backoff while it is down. Returns NULL. */
void *aq_dispatcher_main(void *arg);

/* Tells the dispatchers new outbox rows are there. */
void aq_dispatchers_wake(struct worker *w);

#endif
