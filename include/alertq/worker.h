/* worker.h - the worker: consumes results, applies rules, keeps state in
 * PostgreSQL, escalates and delivers notifications from the outbox */
#ifndef ALERTQ_WORKER_H
#define ALERTQ_WORKER_H

#include <signal.h>

/* Flags the worker polls (about every 100 ms); set them from signal
 * handlers. */
struct aq_worker_signals {
	volatile sig_atomic_t stop;   /* SIGTERM/SIGINT: finish the batch, commit, leave */
	volatile sig_atomic_t reload; /* SIGHUP: reopen log files, reload the config */
};

/* Runs a worker with the configuration at config_path until sig->stop.
 * Returns 0 after a clean stop, 1 on a runtime failure, 2 when the
 * configuration is bad (its errors are printed on stderr). */
int aq_worker_run(const char *config_path, struct aq_worker_signals *sig);

#endif
