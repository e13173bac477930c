/* serve.h - alertq serve: the state database over HTTP (JSON API, health) */
#ifndef ALERTQ_SERVE_H
#define ALERTQ_SERVE_H

#include <signal.h>
#include <stddef.h>

#include "alertq/config.h"

struct aq_serve_options {
	const char *listen;                /* ADDR:PORT in place of cfg's http.listen; NULL: cfg's */
	const volatile sig_atomic_t *stop; /* serving ends soon after *stop becomes non-zero; NULL: never */
};

/* Checks that serve can start as configured: the listen address parses, and
 * with no tokens configured it is a loopback address. Returns 0, or -1 with
 * the reason in err (a configuration error: nothing was started). */
int aq_serve_check(const struct aq_config *cfg, const struct aq_serve_options *opt, char *err, size_t errlen);

/* Serves until *opt->stop is set. cfg is borrowed for the whole call.
 * Returns 0 after a clean stop, or -1 with the reason in err when serving
 * could not start (address taken, Kafka client refused). */
int aq_serve_run(const struct aq_config *cfg, const struct aq_serve_options *opt, char *err, size_t errlen);

#endif
