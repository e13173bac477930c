/* yaml_internal.h - what the configuration loader's files share: the
 * loader's state and the node helpers of yaml.c (internal to lib/config) */
#ifndef ALERTQ_CONFIG_YAML_INTERNAL_H
#define ALERTQ_CONFIG_YAML_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "alertq/config.h"

#define CONFIG_NAME_MAX 255
#define PROBLEM_MAX_BYTES 512
#define SUBJECT_MAX_BYTES 80

/* Every duration in the configuration is at most this long: a deadline
 * computed from one stays far from overflowing, and a year covers every
 * real interval, timeout, escalation and retention. */
#define CONFIG_DURATION_MAX_MS AQ_CONFIG_DURATION_MAX_MS
#define CONFIG_DURATION_MAX_TEXT "366d"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

struct problem {
	int line;
	size_t seq; /* keeps problems on one line in the order they were found */
	char *text;
};

/* A name and where it was written, for finding duplicates and references. */
struct named {
	const char *name;
	int line;
};

struct loader {
	const char *name;
	yaml_document_t *doc;
	struct aq_config *cfg;
	struct problem *problems;
	size_t nproblems;
	size_t dropped;
	/* sorted indexes for the references between sections */
	struct named *sources;
	size_t nsources;
	struct named *channels;
	size_t nchannels;
	struct named *escalations;
	size_t nescalations;
	/* a rules file: the channels and escalations its rules refer to when
	 * it has no such section itself (NULL for alertq.yaml) */
	const struct aq_config *fallback;
	int has_channels;
	int has_escalations;
	int has_inhibit; /* `inhibit` or `inhibit_wait` given */
};

/* A short, quotable form of s for messages: at most SUBJECT_MAX_BYTES. */
struct subject {
	char text[SUBJECT_MAX_BYTES + 4];
};

/* s, or its first SUBJECT_MAX_BYTES and "..." in buf. */
const char *cfg_subj(struct subject *buf, const char *s);

/* calloc that aborts when memory runs out (never returns NULL). */
void *cfg_xcalloc(size_t n, size_t size);

/* --- problems: every one kept with its line, reported together --- */

void cfg_problem(struct loader *ld, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void cfg_write_problems(struct loader *ld, char *err, size_t errlen);
void cfg_free_problems(struct loader *ld);

/* A libyaml parser's error as a problem. */
void cfg_yaml_problem(struct loader *ld, yaml_parser_t *parser, const char *text, size_t len);

/* Refuses deep nesting and aliases before the document is built. Returns 0,
 * or -1 after a problem. */
int cfg_screen_events(struct loader *ld, const char *text, size_t len);

/* --- nodes --- */

int cfg_node_line(const yaml_node_t *n);
yaml_node_t *cfg_get_node(struct loader *ld, int id);
const char *cfg_kind_name(const yaml_node_t *n);
int cfg_is_null(const yaml_node_t *n);
size_t cfg_node_count(const yaml_node_t *n);

/* Typed values (durations at most CONFIG_DURATION_MAX_MS): each returns the value (or 0) and NULL (or -1) after
 * reporting a problem; what names the value in messages ("'topic'"). */
const char *cfg_want_string(struct loader *ld, yaml_node_t *n, const char *what);
const char *cfg_want_text(struct loader *ld, yaml_node_t *n, const char *what);
const char *cfg_want_name(struct loader *ld, yaml_node_t *n, const char *what);
int cfg_want_mapping(struct loader *ld, yaml_node_t *n, const char *what);
int cfg_want_list(struct loader *ld, yaml_node_t *n, const char *what);
int cfg_set_text(struct loader *ld, yaml_node_t *n, const char *what, char **field);
int cfg_set_duration(struct loader *ld, yaml_node_t *n, const char *what, int64_t *ms, int must_be_positive);
int cfg_set_int(struct loader *ld, yaml_node_t *n, const char *what, int low, int high, int *out);
int cfg_set_bool(struct loader *ld, yaml_node_t *n, const char *what, int *out);

/* The value of an environment variable (a new string), or NULL when it is
 * not set or empty. */
char *cfg_from_env(const char *variable);

/* A mapping with fixed keys: values[i] is the node of keys[i] or NULL. */
int cfg_take_keys(struct loader *ld, yaml_node_t *map, const char *what, const char *where,
		  const char *const *keys, size_t nkeys, yaml_node_t **values, const char *hint);

/* Reads a `labels:` mapping of label names to strings into *out (*nout
 * entries, NULL and 0 when there are none), each name checked and none
 * twice; value_lines, when not NULL, gets a new array of the line of each
 * value (NULL when there are none). */
void cfg_load_labels(struct loader *ld, yaml_node_t *n, struct aq_label **out, size_t *nout,
		     int **value_lines);

/* --- names --- */

void cfg_sort_names(struct loader *ld, struct named *names, size_t n, const char *what);
int cfg_has_name(const struct named *names, size_t n, const char *name);

/* --- sections (loader.c, channels.c) --- */

void cfg_load_root(struct loader *ld, yaml_node_t *root);
void cfg_load_channels(struct loader *ld, yaml_node_t *n);
void cfg_load_escalations(struct loader *ld, yaml_node_t *n);
void cfg_load_http(struct loader *ld, yaml_node_t *n);

/* The names of from's channels (escalations) as the ones references are
 * checked against, in place of a section the file does not have. */
void cfg_index_channels(struct loader *ld, const struct aq_config *from);
void cfg_index_escalations(struct loader *ld, const struct aq_config *from);

/* Reads a list of strings (or one string) into a new NULL-terminated array
 * *out of *nout strings; a problem is reported for what is not text. */
void cfg_load_string_list(struct loader *ld, yaml_node_t *n, const char *what, const char *each, char ***out,
			  size_t *nout);

#endif
