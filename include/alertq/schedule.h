/* schedule.h - running the configured checks: each on its own schedule until
 * told to stop, or each once (for cron) */
#ifndef ALERTQ_SCHEDULE_H
#define ALERTQ_SCHEDULE_H

#include <signal.h>
#include <stddef.h>

#include "alertq/config.h"
#include "alertq/publisher.h"

/* Runs every check of cfg every check's `every`, publishing each result with
 * pub, until *stop becomes non-zero (looked at about every 100 ms), then
 * waits until Kafka has acknowledged what was produced. Returns 0 when every
 * result was delivered, or -1 with the reason in err (a result not
 * acknowledged). */
int aq_schedule_run(const struct aq_config *cfg, aq_publisher_t *pub, const volatile sig_atomic_t *stop,
		    char *err, size_t errlen);

/* Runs every check of cfg once (fewer when *stop becomes non-zero), publishes
 * the results and waits until Kafka has acknowledged them. Returns 0 when
 * every check ran and its result was delivered, or -1 with the reason in err
 * (each failed send is logged as it happens). */
int aq_schedule_once(const struct aq_config *cfg, aq_publisher_t *pub, const volatile sig_atomic_t *stop,
		     char *err, size_t errlen);

#endif
