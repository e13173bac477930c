/* submit.h - the results given to `alertq-producer submit`: on the command
 * line, or as JSON lines in a file */
#ifndef ALERTQ_SUBMIT_H
#define ALERTQ_SUBMIT_H

#include <signal.h>
#include <stddef.h>
#include <stdio.h>

#include "alertq/event.h"
#include "alertq/publisher.h"

/* Longest line of `submit --file`, in bytes without its newline: a longer
 * line is reported as too long and skipped without being held in memory. */
#define AQ_SUBMIT_LINE_MAX (1024 * 1024)

/* What the command line of `submit` asks for. */
struct aq_submit_request {
	struct aq_result result; /* --check, --value, ...: owned, freed by aq_submit_request_release */
	const char *file;        /* --file PATH ("-": stdin), or NULL; borrowed from argv */
	int help;                /* --help was given: nothing after it was read */
};

/* Reads the arguments of `submit` (argv[0] is "submit") into req (zeroed on
 * entry). Returns 0, or -1 on a usage error with the reason in err (empty
 * when getopt has already printed it) and req still to be released. */
int aq_submit_args(int argc, char **argv, struct aq_submit_request *req, char *err, size_t errlen);

/* Frees what req owns and zeroes it. */
void aq_submit_request_release(struct aq_submit_request *req);

/* Fills r (zeroed) from one JSON object with the fields of `submit`: check
 * (required), value (number or null), status (OK, WARNING, CRITICAL,
 * UNKNOWN), message, labels (object of strings), interval (a duration such
 * as "5m"), observed_at (RFC 3339; default now). Returns 0, or -1 with the
 * reason in err and r released. */
int aq_submit_parse(const char *json, size_t len, struct aq_result *r, char *err, size_t errlen);

/* Stamps r (aq_result_stamp), publishes it and waits until Kafka has
 * acknowledged it. Returns 0, or -1 with the reason in err. */
int aq_submit_one(aq_publisher_t *pub, struct aq_result *r, char *err, size_t errlen);

/* Publishes one result for each JSON line of path ("-": stdin), then waits
 * until Kafka has acknowledged them; stops reading early when *stop becomes
 * non-zero. A bad line, or one longer than AQ_SUBMIT_LINE_MAX, is reported
 * on report as "PATH:LINE: reason" and skipped. Returns 0 when every line was good and delivered, or -1 with the
 * reason in err (the file cannot be read, bad lines, results not
 * acknowledged). */
int aq_submit_file(aq_publisher_t *pub, const char *path, const volatile sig_atomic_t *stop, FILE *report,
		   char *err, size_t errlen);

#endif
