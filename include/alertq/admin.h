/* admin.h - what the alertq command shows and changes: status, history,
 * acknowledgements, silences */
#ifndef ALERTQ_ADMIN_H
#define ALERTQ_ADMIN_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "alertq/store.h"

/* Each returns 0, or -1 with the reason in err. Output goes to out. Text
 * output shows every string that came from outside (check names, messages,
 * labels, receivers' errors, comments) through aq_terminal_text, so nothing
 * printed can drive the terminal; JSON output is JSON-escaped instead. */

/* Every known check, worst first; undeliverable notifications and dead
 * letters after them. json: an array of objects (check, severity, since,
 * value, last_seen, acked, silenced, escalation_level, message, labels,
 * undeliverable...). */
int aq_admin_status(aq_store_t *s, FILE *out, int json, char *err, size_t errlen);

/* The array `status --json` prints: a new reference the caller releases
 * with json_decref, or NULL with the reason in err. */
json_t *aq_admin_status_json(aq_store_t *s, char *err, size_t errlen);

/* The same objects for the checks of scope only (see aq_store_status_of). */
json_t *aq_admin_status_json_of(aq_store_t *s, enum aq_status_scope scope, const char *check, char *err,
				size_t errlen);

/* The status object of one check into *object (the caller's reference), or
 * *object NULL when the check is not known. Returns 0, or -1 with err. */
int aq_admin_check_json(aq_store_t *s, const char *check, json_t **object, char *err, size_t errlen);

/* The transitions of check, oldest first, each with the notifications it
 * caused per channel (attempts, delivery state, last error), and the
 * escalations and repeats. Fails with "no such check" when unknown. */
int aq_admin_history(aq_store_t *s, const char *check, FILE *out, int json, char *err, size_t errlen);

/* The object `history CHECK --json` prints ({check, transitions,
 * escalations}): a new reference the caller releases with json_decref, or
 * NULL with the reason in err; *found is 0 when that reason is that the
 * check is not known, 1 otherwise. */
json_t *aq_admin_history_json(aq_store_t *s, const char *check, int *found, char *err, size_t errlen);

/* Acknowledges the current episode of check (by and comment may be NULL).
 * Fails when the check is unknown or OK. */
int aq_admin_ack(aq_store_t *s, const char *check, const char *by, const char *comment, char *err,
		 size_t errlen);
int aq_admin_unack(aq_store_t *s, const char *check, char *err, size_t errlen);

/* A silence of checks matching glob for duration_ms; prints its id. */
int aq_admin_silence(aq_store_t *s, const char *glob, int64_t duration_ms, const char *comment,
		     const char *by, FILE *out, char *err, size_t errlen);
int aq_admin_silences(aq_store_t *s, FILE *out, int json, char *err, size_t errlen);
int aq_admin_unsilence(aq_store_t *s, const char *id, char *err, size_t errlen);

/* `check-config --show-templates`: every rule's annotations and every
 * channel's templates rendered against the sample alert, printed to out
 * (terminal-safe). Returns 0, or -1 with the reason in err when a template
 * does not render (too long, not JSON). */
int aq_admin_show_templates(const struct aq_config *cfg, FILE *out, char *err, size_t errlen);

#endif
