/* worker.h - the worker: consumes results, applies rules, keeps state in
 * PostgreSQL, escalates and delivers notifications from the outbox */
#ifndef ALERTQ_WORKER_H
#define ALERTQ_WORKER_H

#include <signal.h>

#include "alertq/config.h"

/* Flags the worker polls (about every 100 ms); set them from signal
 * handlers. */
struct aq_worker_signals {
	volatile sig_atomic_t stop;   /* SIGTERM/SIGINT: finish the batch, commit, leave */
	volatile sig_atomic_t reload; /* SIGHUP: reopen log files, reload the config */
};

/* Runs a worker with cfg, loaded from config_path (read again on
 * sig->reload), until sig->stop. Takes cfg over: it is released here and
 * left zeroed. Returns 0 after a clean stop, -1 on a runtime failure (said
 * in the log). */
int aq_worker_run(struct aq_config *cfg, const char *config_path, struct aq_worker_signals *sig);

#endif
