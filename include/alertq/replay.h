/* replay.h - re-reading the checks topic: what the rules (or other rules)
 * would have done, and rebuilding alert state from it */
#ifndef ALERTQ_REPLAY_H
#define ALERTQ_REPLAY_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "alertq/config.h"
#include "alertq/replay_eval.h"

/* --- the command --- */

struct aq_replay_options {
	const char *from;       /* "beginning", an offset, or an RFC 3339 time */
	const char *to;         /* NULL (the end at start), an offset or a time: read up to, not including */
	int rebuild;            /* 0: dry run */
	int json;               /* dry run: one JSON object on out */
	const char *rules_path; /* dry run: a config file whose rules (escalations, channels) stand in */
	/* reading stops, and the run fails with "interrupted" (a rebuild rolls
	 * back), once *stop is not 0; set it from a signal handler. Borrowed;
	 * NULL: the run goes to the end */
	const volatile sig_atomic_t *stop;
};

/* Checks opt for cfg without reading anything: --from and --to parse, and
 * the rules file (when given) loads. Returns 0, or -1 with the reason in err
 * (a rules file's problems as FILE:LINE). */
int aq_replay_check(const struct aq_config *cfg, const struct aq_replay_options *opt, char *err,
		    size_t errlen);

/* Runs `alertq replay` for cfg: reads the topic with a consumer of its own
 * (assigned partitions, never subscribed, nothing committed) and reports on
 * out; notes and progress go to stderr. A rebuild replaces alertq_checks,
 * alertq_transitions and the stored offsets in one transaction, and is
 * refused while a worker runs. Installs no signal handler: the caller sets
 * opt->stop. Checks the options as aq_replay_check does first. Returns 0,
 * or -1 with the reason in err. */
int aq_replay_run(const struct aq_config *cfg, const struct aq_replay_options *opt, FILE *out, char *err,
		  size_t errlen);

#endif
