/* probe.h - running checks: SQL against a named source, Nagios plugin commands */
#ifndef ALERTQ_PROBE_H
#define ALERTQ_PROBE_H

#include "alertq/config.h"
#include "alertq/event.h"

/* A prober runs checks and keeps one database connection per source, made
 * again when it breaks. One per thread. */
typedef struct aq_prober aq_prober_t;

/* Returns a prober for cfg's sources (connections are made on first use).
 * cfg must outlive it. Never NULL (out of memory aborts, see util.h). */
aq_prober_t *aq_prober_new(const struct aq_config *cfg);
void aq_prober_free(aq_prober_t *p);

/* Runs check once and fills out (zeroed or released on entry): a new
 * event_id, check name, source (the host name, or $ALERTQ_SOURCE),
 * observed_at (when the check started), interval_ms = the check's every,
 * labels, and value/status/message:
 *   sql: the single numeric value of the query's single row, status NONE
 *        (the worker's rules decide); a failed connection or query, a
 *        timeout, no row, or a non-numeric value gives status UNKNOWN and no
 *        value, with the error as the message.
 *   command: Nagios plugin protocol: exit 0/1/2/3 = OK/WARNING/CRITICAL/
 *        UNKNOWN (anything else UNKNOWN), first line of output = message,
 *        first perfdata value = value; killed after its timeout and reported
 *        UNKNOWN "timed out after 30s". The plugin runs with a minimal
 *        environment: PATH (/usr/local/bin:/usr/bin:/bin when the producer
 *        has none), HOME, USER, LOGNAME, LANG, LANGUAGE, LC_*, TZ and TMPDIR
 *        from the producer's, nothing else, so that secrets given to the
 *        producer through its environment never reach a plugin.
 * A check that fails is a result, not an error: returns 0 whenever out was
 * filled, -1 only when memory runs out. */
int aq_prober_run(aq_prober_t *p, const struct aq_check *check, struct aq_result *out);

#endif
