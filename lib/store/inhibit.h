/* inhibit.h - inhibition in the state database: whether a source fires for
 * a check now, the held outbox rows decided at delivery time, and the
 * inhibited_by column (internal to the library) */
#ifndef ALERTQ_STORE_INHIBIT_H
#define ALERTQ_STORE_INHIBIT_H

#include <stddef.h>

#include "alertq/config.h"
#include "alertq/store.h"

/* Longest source check name kept, with its '\0'. */
#define AQ_INHIBIT_SOURCE_MAX 256

/* A source found: its name, and the version of its row (updated_at, as
 * text) the decision was made on; the ticker looks at the targets again
 * only when that row changes. */
struct aq_inhibit_source {
	char name[AQ_INHIBIT_SOURCE_MAX];
	char seen[64];
};

/* Looks for a check that inhibits check (with these labels) now under any
 * of cfg's inhibit entries (see aq_inhibit_inhibits), from the stored
 * severities and labels. Returns 1 with it in *src, 0 when none does, -1
 * with err. */
int aq_store_inhibit_source(aq_store_t *s, const struct aq_config *cfg, const char *check,
			    const struct aq_label *labels, size_t nlabels, struct aq_inhibit_source *src,
			    char *err, size_t errlen);

/* Clears check's inhibited_by (src NULL) or sets it to src, with the
 * version of the source's row it was decided on. Returns 0 or -1. */
int aq_store_set_inhibited_by(aq_store_t *s, const char *check, const struct aq_inhibit_source *src,
			      char *err, size_t errlen);

/* Decides the held rows of channel that are due (at most max), in the
 * caller's transaction: a row of a check no entry targets any more goes on
 * ('pending'); a firing one while a source fires is 'inhibited' and its
 * check marked suppressed and inhibited_by the source (the channel is
 * struck from the checks told, unless a notification of this episode
 * reached it), else it goes on; a resolved one goes on only when the
 * channel was told of this episode. Counts in *released and *inhibited.
 * Returns 0, or -1 with err (the caller rolls back; nothing is lost). */
int aq_store_inhibit_pass(aq_store_t *s, const struct aq_config *cfg, const char *channel, int max,
			  int *released, int *inhibited, char *err, size_t errlen);

#endif
