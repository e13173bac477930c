/* template.h - the message templates of channels and the annotations of
 * rules: a tiny logic-less language ({{name}} and {{#name}}...{{/name}}),
 * parsed once at load, rendered with every value escaped for its target */
#ifndef ALERTQ_NOTIFY_TEMPLATE_H
#define ALERTQ_NOTIFY_TEMPLATE_H

#include <stddef.h>

#include "alertq/notify.h"
#include "alertq/util.h"

/* Longest template source accepted. */
#define AQ_TEMPLATE_SOURCE_MAX (64 * 1024)
/* Sections nested deeper than this are refused. */
#define AQ_TEMPLATE_DEPTH_MAX 16
/* Most of one placeholder's value a render shows; a longer value is cut
 * with "...". */
#define AQ_TEMPLATE_VALUE_MAX (16 * 1024)
/* Longest rendered Slack text, email body and JSON body: longer fails. */
#define AQ_TEMPLATE_OUTPUT_MAX (64 * 1024)
/* Longest rendered email subject: longer is cut (a subject never fails). */
#define AQ_TEMPLATE_SUBJECT_MAX 512
/* Longest rendered annotation value: longer is cut on a character boundary. */
#define AQ_ANNOTATION_VALUE_MAX 4096
/* Annotations a rule may have, and the longest key. */
#define AQ_ANNOTATIONS_MAX 32
#define AQ_ANNOTATION_KEY_MAX 128

/* Where a rendered template lands: each placeholder's value (never the
 * template's own text) is made valid UTF-8 and escaped for it. */
enum aq_template_target {
	AQ_TEMPLATE_TEXT,         /* plain text (annotations): newlines kept */
	AQ_TEMPLATE_SLACK,        /* Slack mrkdwn: &, < and > escaped */
	AQ_TEMPLATE_EMAIL_HEADER, /* one header line: every control character, in the
	                           * template's text too, becomes a space */
	AQ_TEMPLATE_EMAIL_BODY,   /* plain text; the mail writer breaks long lines */
	AQ_TEMPLATE_JSON,         /* inside a JSON string (\" \\ \n ...); {{value}} is a
	                           * number or null; the whole output must parse as JSON */
};

/* What a template may name. */
enum aq_template_scope {
	AQ_TEMPLATE_CHANNEL,    /* every placeholder */
	AQ_TEMPLATE_ANNOTATION, /* every placeholder but {{annotations.KEY}} */
};

/* A parsed template: immutable, shared by reference. */
struct aq_template;

/* Parses text (len bytes, valid UTF-8, at most AQ_TEMPLATE_SOURCE_MAX).
 * Returns a new template (one reference), or NULL with the first problem in
 * err, saying where in the template it is ("unknown placeholder '{{chek}}'
 * at line 1, column 5"). */
struct aq_template *aq_template_parse(const char *text, size_t len, enum aq_template_scope scope, char *err,
				      size_t errlen);

/* Another reference to t (NULL stays NULL). */
struct aq_template *aq_template_ref(struct aq_template *t);

/* Drops a reference; the last one frees t. NULL is ignored. */
void aq_template_unref(struct aq_template *t);

/* The source text t was parsed from (lives as long as t). */
const char *aq_template_source(const struct aq_template *t);

/* The values a template renders. Strings are borrowed (NULL reads as
 * empty); the fixed buffers are filled by aq_template_values_for. */
struct aq_template_values {
	const char *check;
	const char *severity;
	const char *previous_severity;
	const char *status; /* "firing", "resolved", "flapping" */
	const char *message;
	char value[40]; /* "" when there is none */
	int value_is_number;
	char since[40];
	char observed_at[40];
	char escalation_level[16];
	const struct aq_label *labels;
	size_t nlabels;
	const struct aq_label *annotations;
	size_t nannotations;
};

/* Fills v with the sample alert that check-config renders and config
 * checks a json body with: check "example.check", CRITICAL from WARNING,
 * firing, value 120000, message "example message", observed at
 * 2026-11-27T17:00:00Z since an hour before, escalation level 0; labels and
 * annotations as given (borrowed, may be NULL). */
void aq_template_values_sample(struct aq_template_values *v, const struct aq_label *labels, size_t nlabels,
			       const struct aq_label *annotations, size_t nannotations);

/* Fills v from a notification (which must outlive v). */
void aq_template_values_for(struct aq_template_values *v, const struct aq_notification *n);

/* Renders t for target into a new string the caller frees (valid UTF-8).
 * Output longer than max bytes: with cut, it is cut on a character
 * boundary at max; without, the render fails. A JSON render that does not
 * parse as JSON fails. Returns NULL with the reason in err on failure
 * (too long, not JSON, out of memory). */
char *aq_template_render(const struct aq_template *t, const struct aq_template_values *v,
			 enum aq_template_target target, size_t max, int cut, char *err, size_t errlen);

/* Renders every annotation of rule (key/template pairs) for v into a new
 * array *out of *nout labels (each value cut at AQ_ANNOTATION_VALUE_MAX).
 * An annotation that cannot be rendered (memory) is left out. */
void aq_annotations_render(const struct aq_rule *rule, const struct aq_template_values *v,
			   struct aq_label **out, size_t *nout);

/* Counts one template that failed at run time in this process (the
 * built-in format was sent instead) and returns the new total; and reads
 * the total. Thread-safe. */
unsigned long aq_template_count_failure(void);
unsigned long aq_template_failure_count(void);

#endif
