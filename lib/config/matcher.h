/* matcher.h - label matchers of rules and inhibit entries as the loader
 * reads them, and the checks made on the whole set (internal to lib/config) */
#ifndef ALERTQ_CONFIG_MATCHER_H
#define ALERTQ_CONFIG_MATCHER_H

#include "config/yaml_internal.h"

/* Reads a `labels:` mapping into a new array *out of *nout matchers,
 * compiling each "~RE" (anchored as ^(RE)$); a bad expression is a problem
 * at its line. where names the owner in messages ("rule"). */
void cfg_load_label_matchers(struct loader *ld, yaml_node_t *n, const char *where,
			     struct aq_label_matcher **out, size_t *nout);

/* Frees an array of n matchers (and their compiled expressions). */
void cfg_free_label_matchers(struct aq_label_matcher *m, size_t n);

/* Frees the label matchers of every rule and every inhibit entry of cfg. */
void cfg_release_matchers(struct aq_config *cfg);

/* Gives to a copy of from's inhibit entries and inhibit_wait (expressions
 * compiled again), for a rules file that has no inhibit section. */
void cfg_copy_inhibits(struct aq_config *to, const struct aq_config *from);

/* Refuses a cycle among cfg's inhibit entries: a problem at the line of
 * the entry where it closes. */
void cfg_check_inhibit_cycles(struct loader *ld);

/* Whether the inhibit entry from's target could match a check that to's
 * source matches (conservative: 1 unless their matchers contradict). */
int cfg_inhibit_edge(const struct aq_inhibit *from, const struct aq_inhibit *to);

#endif
