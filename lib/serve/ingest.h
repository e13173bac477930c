/* ingest.h - the bodies of POST /api/v1/results and POST /api/v2/alerts
 * (Alertmanager) made into results; pure functions, no I/O */
#ifndef ALERTQ_SERVE_INGEST_H
#define ALERTQ_SERVE_INGEST_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "alertq/event.h"

/* Most items one body may hold; a longer array is refused whole. */
#define AQ_INGEST_ITEMS_MAX 10000

/* Longest reason given for one bad item, in bytes. */
#define AQ_INGEST_REASON_MAX 200

/* How long an Alertmanager alert without an endsAt in the future stays
 * firing unless it is sent again (Alertmanager's resolve_timeout). */
#define AQ_INGEST_ALERT_TTL_MS (5LL * 60 * 1000)

/* body: a JSON array of submit objects (the fields of `submit --file` lines). Returns 0 with *results (n of them,
 * each released with aq_result_release, array freed with free) all valid by aq_result_validate; or -1 with
 * *errors a JSON array of {"index": i, "error": "..."} for every bad item (nothing returned then), or with
 * *errors = [{"index": -1, "error": "..."}] when the body is not a JSON array. */
int aq_ingest_results(const char *body, size_t len, struct aq_result **results, size_t *n, json_t **errors);

/* Alertmanager API v2 POST /api/v2/alerts body (array of {labels, annotations, startsAt, endsAt, generatorURL}).
 * Returns and fails as aq_ingest_results. Each alert becomes one result:
 * check = alertname, then "/" and instance when that label is set; status
 * from the severity label (warning: WARNING, anything else or none:
 * CRITICAL) and OK once endsAt <= now_ms; message =
 * annotations.summary, else annotations.description, else ""; labels = every
 * label but alertname, each annotation as "annotation_KEY" (cleaned, cut to
 * AQ_LABEL_VALUE_MAX) and generatorURL as "generator_url"; observed_at =
 * endsAt for a resolved alert, else startsAt when it is not after now_ms,
 * else now_ms (now_ms too when startsAt is more than AQ_EXPIRES_AFTER_MAX_MS
 * before expires_at); expires_at = endsAt when it is after now_ms, else
 * now_ms + AQ_INGEST_ALERT_TTL_MS (an endsAt further than
 * AQ_EXPIRES_AFTER_MAX_MS ahead makes the item bad). Times are RFC 3339 with any number of fractional
 * digits; "0001-01-01T00:00:00Z" (Go's zero time) counts as unset. */
int aq_ingest_alertmanager(const char *body, size_t len, int64_t now_ms, struct aq_result **results,
			   size_t *n, json_t **errors);

#endif
